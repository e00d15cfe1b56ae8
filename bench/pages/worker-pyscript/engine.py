# The engine behind a PyScript worker: PyScript exposes the names in __export__ as worker.sync.<name>.
from vram_insight import web_api


def call(op, payload):
    return web_api.call(op, payload)


__export__ = ["call"]
