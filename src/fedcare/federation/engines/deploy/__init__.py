"""A real federation: one SuperLink (the coordinator) and one SuperNode per site, over TLS
with SuperNode authentication.

``pki``: the study CA, TLS identity and site keys; ``layout``: the coordinator's and
sites' folders, enrolment, the ``flwr`` CLI against the coordinator; ``processes``:
starting and stopping the Flower processes; ``submit``: running a study on them.
"""

from fedcare.federation.engines.deploy.layout import (
    DEFAULT_PORT,
    enroll_site,
    enrolled_sites,
    init_coordinator,
    init_site,
    node_status,
    revoke_site,
    revoked_sites,
    run_status,
    site_status,
)
from fedcare.federation.engines.deploy.pki import key_fingerprint
from fedcare.federation.engines.deploy.processes import (
    FLOWER_EXIT_CODES,
    ProcessExited,
    descendants,
    node_config_arg,
    start_coordinator,
    start_site,
    stop_process,
)
from fedcare.federation.engines.deploy.submit import submit

__all__ = ["DEFAULT_PORT", "FLOWER_EXIT_CODES", "ProcessExited", "descendants", "enroll_site",
           "enrolled_sites", "init_coordinator", "init_site", "key_fingerprint",
           "node_config_arg", "node_status", "revoke_site", "revoked_sites", "run_status",
           "site_status",
           "start_coordinator", "start_site", "stop_process", "submit"]
