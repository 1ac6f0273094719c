"""The SecAgg+ adapter: a site's part in a secure sum runs the same task as a plain
message, and sends only its masked, limb-encoded result.

Flower 1.41 offers SecAgg+ only through its legacy API: the coordinator's
``SecAggPlusWorkflow`` sends legacy ``FitIns`` (arrays and a config dict) through
``secaggplus_mod``; the config's ``task`` names the message type whose task is summed
(:data:`fedcare.federation.protocol.SECURE`). The reply reports weight 1 and no metrics
in the clear: every figure travels inside the masked vector, and its public layout
(names and shapes, the same at every site) in the FitRes metrics.
"""

from __future__ import annotations

import json
from typing import Any, cast

import flwr.compat.common.recorddict_compat as compat
from flwr.app import Context, Message
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays

from fedcare.exceptions import FederationError

from ..limbs import encode_limbs, pack
from ..protocol import SECURE, ConfigKey
from .context import SITE_CONFIG_KEY, load_state, save_state, settings, site_name
from .data import missing_of, site_cache_dir, units_of
from .request import SiteRequest
from .tasks import TASKS

__all__ = ["CLIP_KEY", "LAYOUT_KEY", "LIMBS_KEY", "RANGE_KEY", "secure_train"]

CLIP_KEY, RANGE_KEY, LIMBS_KEY = ("secagg-clipping-range", "secagg-quantization-range",
                                  "secagg-limbs")
LAYOUT_KEY = "secagg-layout"
CONFIG_KEY, NAMES_KEY = "fedcare-config", "fedcare-array-names"


def secure_train(message: Message, context: Context) -> Message:
    """Run the task the secure sum stands for; reply with its limb-encoded vector."""
    ins = compat.recorddict_to_fitins(message.content, keep_input=True)
    legacy: dict[str, Any] = dict(ins.config)
    message_type = str(legacy.get(ConfigKey.TASK, ""))
    if message_type not in SECURE:
        raise FederationError(f"a secure sum of '{message_type}' is not defined")
    encoding = SECURE[message_type]
    clip, target, limbs = (float(cast(float, legacy[CLIP_KEY])),
                           int(cast(int, legacy[RANGE_KEY])), int(cast(int, legacy[LIMBS_KEY])))
    cfg = dict(json.loads(str(legacy[CONFIG_KEY])))
    names = list(json.loads(str(legacy[NAMES_KEY])))
    config, key = settings(context)
    site_config = context.node_config.get(SITE_CONFIG_KEY)
    arrays = parameters_to_ndarrays(ins.parameters)
    path = str(site_config) if site_config else None
    req = SiteRequest(config=config, key=key, name=site_name(context, config),
                      units=units_of(path), missing=missing_of(path), arrays=arrays,
                      named={str(k): v for k, v in zip(names, arrays, strict=False)},
                      cfg=cfg, state=load_state(context), cache=site_cache_dir(path))
    result = TASKS[message_type](req)
    save_state(context, req.state)
    vector, layout = pack(result, encoding)
    fitres = FitRes(Status(Code.OK, ""), ndarrays_to_parameters(
        encode_limbs(vector, clip, target, limbs)), 1, {LAYOUT_KEY: layout})
    return Message(compat.fitres_to_recorddict(fitres, keep_input=False), reply_to=message)
