"""The app server's API: a tiny WSGI app (standard library only).

Served by Apache's mod_wsgi at /api (see stemcell-api.conf).
"""

import json


def application(environ, start_response):
    path = environ.get("PATH_INFO", "") or "/"
    if path in ("/health", "/health/"):
        body = {"status": "ok", "role": "app-api", "server": environ.get("SERVER_NAME", "")}
        status = "200 OK"
    elif path in ("/", ""):
        body = {"service": "stem cell app API", "endpoints": ["/api/health"]}
        status = "200 OK"
    else:
        body = {"error": "not found", "path": path}
        status = "404 Not Found"
    data = json.dumps(body, indent=1).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
