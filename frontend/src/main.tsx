import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { AppErrorBoundary } from './components/ErrorFallback';
import { rootErrorHandlers, setupSentry } from './sentry';
import './styles.css';

function render() {
  const container = document.getElementById('root');
  if (!container) throw new Error('index.html has no #root element');
  createRoot(container, rootErrorHandlers()).render(
    <StrictMode>
      <AppErrorBoundary>
        <App />
      </AppErrorBoundary>
    </StrictMode>,
  );
}

// Sentry first, so the first render is traced and its errors are caught; it
// waits for the runtime config for a bounded time and never rejects.
void setupSentry().finally(render);
