# The two-tier collector locally: docker-compose.yml plus
# docker-compose.scale.yml (the collector becomes the gateway of
# collector/gateway.yaml, two samplers of collector/sampler.yaml behind it,
# two app replicas). Included by the top-level Makefile (include make/*.mk).

COMPOSE_SCALE_FILES := -f docker-compose.yml -f docker-compose.scale.yml

.PHONY: up-scale down-scale

##@ stack
up-scale: compose-check ## start the stack with a collector gateway, two tail-sampling collectors and two app replicas
	$(COMPOSE) $(COMPOSE_SCALE_FILES) up -d --build
	@echo
	@echo "  Grafana     http://localhost:$${GRAFANA_PORT:-3000}  (admin / GF_SECURITY_ADMIN_PASSWORD from .env)"
	@echo "  Blog + API  http://localhost:8080 and :8081 (one per replica; APP_PORTS)"
	@echo "  Demo load   make traffic"
	@echo

down-scale: compose-check ## stop the stack started by up-scale (data stays in the named volumes)
	$(COMPOSE) $(COMPOSE_SCALE_FILES) down
