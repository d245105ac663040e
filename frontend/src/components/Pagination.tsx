import { Link } from '../router';

interface Props {
  page: number;
  perPage: number;
  total: number;
  /** hrefFor returns the URL of a page. */
  hrefFor: (page: number) => string;
}

export function pageCount(total: number, perPage: number): number {
  return Math.max(1, Math.ceil(total / Math.max(1, perPage)));
}

export function Pagination({ page, perPage, total, hrefFor }: Props) {
  const pages = pageCount(total, perPage);
  if (pages === 1 && page === 1) return null;
  return (
    <nav className="pagination" aria-label="Pagination">
      {page > 1 ? (
        <Link to={hrefFor(page - 1)} rel="prev">
          ← Newer
        </Link>
      ) : (
        <span aria-disabled="true">← Newer</span>
      )}
      <span>
        Page {page} of {pages}
      </span>
      {page < pages ? (
        <Link to={hrefFor(page + 1)} rel="next">
          Older →
        </Link>
      ) : (
        <span aria-disabled="true">Older →</span>
      )}
    </nav>
  );
}
