"""Compatibility shim: a site's policy and units now live in :mod:`fedcare.config`.

Import from ``fedcare.config`` in new code; this module goes once every import moved.
"""

from fedcare.config._policy import SitePolicy, read_site_units

__all__ = ["SitePolicy", "read_site_units"]
