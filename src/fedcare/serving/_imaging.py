"""Image models over the API: a DICOM file in, a probability and its saliency map out.

``POST /v1/models/{id}/predict/dicom`` takes the raw file (``Content-Type:
application/dicom``; at most :data:`MAX_DICOM_BYTES`). The file is read, checked and
de-identified exactly as a site reads its own (:func:`fedcare.imaging.load_slice`)
before its pixels are used; a file the checks refuse gets 422 naming the finding, a file
over the limit 413, a JSON body or a model that is not an image model 409/415. The log
keeps who, when, which model and a SHA-256 of the file: never a pixel, a header value
or the file. A JSON ``/predict`` on an image model is refused with 409 pointing here.
"""

from __future__ import annotations

import hashlib
import io
import threading
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from fedcare.serving._app import _ERRORS, ClinicianKey, Problem

if TYPE_CHECKING:
    from fedcare.registry import ModelRecord
    from fedcare.serving._app import _Service

__all__ = ["MAX_DICOM_BYTES", "add_image_routes"]

MAX_DICOM_BYTES = 20 * 1024 * 1024
"""The largest DICOM upload accepted (20 MiB: a 512 x 512 16-bit slice is 0.5 MiB)."""

ModelId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Registry id of the model.")]


class Saliency(BaseModel):
    """Where the model looked: occlusion saliency on the model's grid."""

    size: int = Field(description="Side of the square grid (pixels).")
    values: list[list[float]] = Field(
        description="size x size values in [0, 1]; 1: hiding this neighbourhood lowers the "
                    "predicted log-odds of a finding the most.")
    png: str = Field(description="The slice and the map side by side, base64 PNG.")


class ImagePrediction(BaseModel):
    """The probability of a finding for one slice, with its saliency map."""

    model_id: int
    content_hash: str
    probability: float = Field(description="Probability of a finding (0-1).")
    outcome: str = Field(description="The label column the model predicts (what the "
                                     "probability is of).")
    findings: list[str] = Field(description="Checks that noted something but kept the file "
                                            "(e.g. non-square-pixels: resampled).")
    deidentified: bool = Field(description="The file was de-identified (PS3.15 basic "
                                           "profile) before its pixels were read.")
    saliency: Saliency


_models: dict[str, Any] = {}
_lock = threading.Lock()


def _network(record: ModelRecord) -> Any:
    """The record's CNN (cached by content hash)."""
    from fedcare.models import CNNClassifier

    with _lock:
        model = _models.get(record.content_hash)
    if model is None:
        import numpy as np

        model = CNNClassifier(device="cpu").set_arrays(
            [np.asarray(a, dtype=np.float32) for a in record.arrays])
        with _lock:
            _models[record.content_hash] = model
    return model


def _predict(record: ModelRecord, data: bytes) -> dict[str, Any]:
    from fedcare.imaging import LEFT_OUT, MEANINGS, load_slice, occlusion_saliency, saliency_png

    images = record.provenance.get("images") or {}
    size = int(images.get("size") or 64)
    modality = str(images.get("modality") or "CT")
    accepted = None if modality.upper() == "ANY" else tuple(
        m.strip().upper() for m in modality.split(",") if m.strip())
    from fedcare.config._study import parse_window

    window = parse_window(str(record.hyperparameters.get("window") or "auto"))
    result = load_slice(io.BytesIO(data), modality=accepted, size=size, window=window)
    if result.image is None:
        kind = next((k for k in result.findings if k in LEFT_OUT), "unreadable")
        detail = MEANINGS[kind]
        if kind == "modality":
            detail += f" (this model reads {modality})"
        raise HTTPException(422, detail=f"the uploaded file was refused: {kind}: {detail}")
    model = _network(record)
    saliency, probability = occlusion_saliency(model, result.image[0])
    return {"probability": probability, "outcome": str(record.schema.get("target") or ""),
            "findings": [k for k in result.findings if k not in LEFT_OUT],
            "saliency": {"size": size,
                         "values": [[round(float(v), 3) for v in row] for row in saliency],
                         "png": saliency_png(result.image[0], saliency,
                                             title=f"p = {probability:.2f}")}}


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_DICOM_BYTES:
        raise HTTPException(413, detail=f"the upload is larger than {MAX_DICOM_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_DICOM_BYTES:
            raise HTTPException(413, detail=f"the upload is larger than {MAX_DICOM_BYTES} "
                                            "bytes")
    return bytes(body)


def add_image_routes(app: FastAPI, service: _Service) -> None:
    """``POST /v1/models/{model_id}/predict/dicom`` (module docstring)."""

    @app.post("/v1/models/{model_id}/predict/dicom", response_model=ImagePrediction,
              tags=["predictions"],
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/dicom": {"schema": {"type": "string", "format": "binary"}}}}},
              responses={**_ERRORS,
                         409: {"model": Problem, "description": "Model retired, or not an "
                                                                "image model."},
                         413: {"model": Problem, "description": "Upload over 20 MiB."},
                         415: {"model": Problem, "description": "Not a DICOM upload."}})
    async def predict_dicom(model_id: ModelId, request: Request,
                            key: ClinicianKey) -> ImagePrediction:
        """The probability of a finding for one DICOM slice (the raw file as the body,
        ``Content-Type: application/dicom``), with its occlusion saliency map. The file
        is checked and de-identified before its pixels are read; nothing of it is
        logged but its SHA-256."""
        record = service.record(model_id)
        if not record.is_image:
            raise HTTPException(409, detail=f"model {model_id} is not an image model; POST "
                                f"its inputs as JSON to /v1/models/{model_id}/predict")
        if record.status != "active":
            raise HTTPException(409, detail=f"model {model_id} is {record.status}; "
                                "predictions are refused")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/dicom", "application/octet-stream"):
            raise HTTPException(415, detail="send the DICOM file itself as the body with "
                                "Content-Type: application/dicom")
        digest: dict[str, Any] = {"sha256": ""}
        try:
            data = await _read_limited(request)
            digest["sha256"] = hashlib.sha256(data).hexdigest()
            if not data:
                raise HTTPException(422, detail="the upload is empty")
            answer = await run_in_threadpool(_predict, record, data)
        except HTTPException as exc:
            service.log(key, model_id, "predict-dicom", [digest], exc.status_code)
            raise
        service.log(key, model_id, "predict-dicom", [digest], 200)
        return ImagePrediction(model_id=model_id, content_hash=record.content_hash,
                               deidentified=True, **answer)
