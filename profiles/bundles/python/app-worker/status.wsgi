"""Status page of the worker box, served by Apache at /worker/status."""


def application(environ, start_response):
    data = b"worker: ready\nqueue: /var/spool/stemcell/jobs\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
