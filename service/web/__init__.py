"""The pages: a server-rendered web app at /app/ for teachers (class and student views, teacher actions) and
equity leads (outcomes by group, the identity test, audits, DIF items), plus /docs served offline.

Like the JSON routers, the page routers only call `engine.runtime`; templates are Jinja2 (`templates/`), every
asset is served from `static/` by the service itself.
"""
