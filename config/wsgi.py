import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()

# A web worker loads WeasyPrint and its fonts as it starts, not on the first print page a user opens
# (about a second: see glocal/brand/render_cache.py).
from glocal.brand.render_cache import warm_up  # noqa: E402

warm_up()
