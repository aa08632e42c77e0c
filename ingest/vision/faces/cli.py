"""`pingan faces`: enrol residents, identify a photo (audited), watch video streams.

They use the Kafka of KAFKA_BOOTSTRAP (unset = the local broker of `make run`) and the model
pack of PINGAN_FACE_MODEL_DIR, so they work next to a running platform.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import orjson
from aiokafka.errors import KafkaError

from ingest.vision.faces.pack import ModelPack, load_pack
from pingan.platform.face_pack import PackError
from pingan.platform.publisher import Publisher
from pingan.platform.settings import get_settings
from schemas.faces import gallery_key
from schemas.topics import FACE_GALLERY

T = TypeVar("T")
OPERATOR_HELP = "Who is doing this (recorded); default $USER."


def _fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _operator(operator: str | None) -> str:
    who = operator or os.environ.get("USER")
    if not who:
        _fail("say who you are: --operator NAME (biometric actions are attributed)")
    return who


def _pack() -> ModelPack:
    settings = get_settings()
    try:
        return load_pack(settings.face_model_dir, settings.face_threads)
    except PackError as exc:
        _fail(str(exc))


def _image(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a Kafka-facing coroutine; an unreachable broker is an error message, not a trace."""
    try:
        return asyncio.run(coroutine)
    except ValueError as exc:  # unreadable image, unusable photo, unknown camera
        _fail(str(exc))
    except KafkaError as exc:
        _fail(f"Kafka at {get_settings().bootstrap} failed: {exc}", code=1)
    except RuntimeError as exc:  # a video that cannot be opened
        _fail(str(exc), code=1)


@click.group()
def faces() -> None:
    """Face recognition: enrol residents, identify photos, watch camera streams."""
    logging.getLogger("aiokafka").setLevel(logging.ERROR)


@faces.command()
@click.option("--person", "person_id", required=True, help="Resident's person id.")
@click.option(
    "--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--community", default=None, help="Default: the resident's, from reference data.")
@click.option("--operator", default=None, help=OPERATOR_HELP)
def enroll(person_id: str, image: Path, community: str | None, operator: str | None) -> None:
    """Enrol a resident's face from a photo showing them alone."""
    from ingest.vision.faces.search import enrol

    who = _operator(operator)
    pack = _pack()
    record = _run(enrol(get_settings(), pack, person_id, _image(image), community, who))
    click.echo(f"enrolled {person_id} in {record.community_id} ({record.face_id})")


@faces.command()
@click.option(
    "--image", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{bbox, person_id, score}].")
@click.option("--operator", default=None, help=OPERATOR_HELP)
@click.option("--reason", default="", help="Why this search is made (recorded), e.g. a case id.")
def identify(image: Path, as_json: bool, operator: str | None, reason: str) -> None:
    """Identify the faces of a photo against the gallery. Every search is logged."""
    from ingest.vision.faces.search import identify as search

    who = _operator(operator)
    pack = _pack()
    found = _run(search(get_settings(), pack, _image(image), who, reason))
    results = [f.as_json() for f in found]
    if as_json:
        click.echo(orjson.dumps(results).decode())
        return
    for r in results or [{"bbox": "no face found", "person_id": None, "score": 0.0}]:
        click.echo(f"{r['bbox']}  {r['person_id'] or 'unknown'}  {r['score']}")


@faces.command()
@click.option("--person", "person_id", required=True)
@click.option("--operator", default=None, help=OPERATOR_HELP)
def forget(person_id: str, operator: str | None) -> None:
    """Remove a resident's enrolment (for the loaded model pack) from the gallery."""
    who = _operator(operator)
    key = gallery_key(person_id, _pack().model_id).encode()

    async def remove() -> None:
        async with Publisher(get_settings().bootstrap) as publisher:
            await publisher.publish_raw(
                FACE_GALLERY, key, None, [("pingan-operator", who.encode())]
            )

    _run(remove())
    click.echo(f"removed {person_id} from the face gallery")


@faces.command()
@click.option(
    "--stream",
    "streams",
    multiple=True,
    required=True,
    metavar="CAMERA_ID=SOURCE",
    help="A registered camera and its video: RTSP URL or file. Repeat for several.",
)
def watch(streams: tuple[str, ...]) -> None:
    """Analyse camera streams and publish face captures until they end (or Ctrl-C)."""
    from ingest.vision.faces.service import FaceService
    from ingest.vision.faces.video import watch as watch_streams

    parsed = dict(s.split("=", 1) for s in streams if "=" in s)
    if len(parsed) != len(streams):
        _fail("each --stream is CAMERA_ID=SOURCE")
    settings = get_settings()
    pack = _pack()

    async def run() -> int:
        async with FaceService(settings, pack) as service, Publisher(settings.bootstrap) as pub:
            return await watch_streams(service, parsed, pub)

    click.echo(f"published {_run(run())} events")
