"""Explanations: validate a patient, predict the risk, say which features drove it.

Linear models are explained exactly (weight x standardised value, summed per feature);
other models with SHAP against the federated mean patient. Global importance is the mean
absolute contribution over a synthetic reference sample drawn from the federated moments
(no patient rows exist where a model is served).
"""

from fedcare.explain._model import Explanation, InputError, PatientInputError, RiskModel

__all__ = ["Explanation", "InputError", "PatientInputError", "RiskModel"]
