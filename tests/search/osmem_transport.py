"""A test-only transport node for osmem-server.

The official client sends `application/vnd.elasticsearch+json; compatible-with=N`, which osmem
answers with 406; this node sends plain `application/json` instead. Nothing else changes.
"""

import uuid

from elastic_transport import Urllib3HttpNode

_COMPAT = "application/vnd.elasticsearch+json"
_NDJSON_COMPAT = "application/vnd.elasticsearch+x-ndjson"


class PlainJsonNode(Urllib3HttpNode):
    def perform_request(self, method, target, body=None, headers=None, request_timeout=None, **kwargs):
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and value.startswith(_NDJSON_COMPAT):
                    headers[name] = "application/x-ndjson"
                elif value and value.startswith(_COMPAT):
                    headers[name] = "application/json"
        if request_timeout is None:
            return super().perform_request(method, target, body=body, headers=headers, **kwargs)
        return super().perform_request(method, target, body=body, headers=headers, request_timeout=request_timeout,
                                       **kwargs)


def elastic_backend(url: str, prefix: str | None = None):
    """An Elasticsearch engine on osmem, with its own index prefix and refresh on every write."""
    from search.elastic import ElasticBackend

    return ElasticBackend(url, prefix=prefix or f"t{uuid.uuid4().hex[:8]}", node_class=PlainJsonNode, refresh=True)
