"""The HTTP layer: routes that translate requests into `CoComposer` calls and its errors into status codes.

No logic of its own: the checks, the queue and the tree live in `service`. Every error is JSON
`{"detail": "<one line>"}` with a fitting status (400 bad request, 404 unknown id, 413 too large, 429 too many of
yours, 503 busy or full with Retry-After), so the page can show it as it is; no message quotes more than a few
dozen characters of what was sent. A job is addressed within its session (/api/sessions/{sid}/jobs/{jid}), so
its id alone reads or cancels nothing. The OpenAPI page (/docs) is served from the
`swagger-ui-py` wheel's files, not a CDN, so it works offline too.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ..errors import MidiError, UserError
from ..generate.config import MAX_CANDIDATES, MAX_GUIDANCE, MAX_SECONDS, MAX_TEMPERATURE
from .jobs import QueueFull
from .limits import BodyLimit, client_key, security_headers
from .service import Ask, CoComposer, InfillAsk, TooLarge
from .store import Full, NotFound

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("musenet.web")


# The sampling fields that Generate, Continue and Regenerate span share: SampleConfig's bounds (422 outside them).
Temperature = Annotated[
    float | None,
    Field(
        ge=0,
        le=MAX_TEMPERATURE,
        description="sampling temperature; lower is safer, higher is wilder (null: the model's default)",
    ),
]
TopK = Annotated[
    int | None, Field(ge=0, description="sample among the k most likely tokens (0: all; null: the model's)")
]
TopP = Annotated[
    float | None, Field(gt=0, le=1, description="nucleus sampling mass (null: the model's default)")
]
Guidance = Annotated[
    float | None,
    Field(
        ge=0,
        le=MAX_GUIDANCE,
        description="style guidance: above 1 the style sounds stronger, 1 is off (null: the model's default)",
    ),
]
Seed = Annotated[
    int | None, Field(ge=0, lt=2**31, description="null: a random seed (reported per candidate)")
]
Candidates = Annotated[int, Field(ge=1, le=MAX_CANDIDATES, description="how many candidates to generate")]


class AskBody(BaseModel):
    """The settings of one Generate or Continue (limits: see GET /api/info). Defaults and bounds are
    GenerateConfig's and SampleConfig's; the server's own, tighter limits are checked by the service."""

    style: str | None = Field(
        Ask.style, description="a style the model knows (GET /api/styles); null: its first"
    )
    instruments: list[str] = Field(
        list(Ask.instruments),
        description="the instruments that may play (GET /api/instruments)",
    )
    seconds: float = Field(
        Ask.seconds, gt=0, le=MAX_SECONDS, description="length of the new music, in seconds"
    )
    candidates: Candidates = Ask.candidates
    temperature: Temperature = None
    top_k: TopK = None
    top_p: TopP = None
    guidance: Guidance = None
    seed: Seed = None

    def ask(self) -> Ask:
        return Ask(**(self.model_dump(exclude={"primer"}) | {"instruments": tuple(self.instruments)}))


class GenerateBody(AskBody):
    primer: str | None = Field(
        None, description="continue this node (e.g. an uploaded primer); null: from scratch"
    )


class InfillBody(BaseModel):
    """The settings of one Regenerate span (limits: see GET /api/info, `infill`); sampling as for AskBody."""

    start: float = Field(description="start of the span to redo, in seconds from the node's beginning")
    end: float = Field(description="end of the span, in seconds; the music after it is kept")
    instruments: list[str] | None = Field(
        InfillAsk.instruments,
        description="redo only these instruments in the span, keeping the others' notes; null: all",
    )
    candidates: Candidates = InfillAsk.candidates
    temperature: Temperature = None
    top_k: TopK = None
    top_p: TopP = None
    guidance: Guidance = None
    seed: Seed = None

    def ask(self) -> InfillAsk:
        d = self.model_dump()
        return InfillAsk(
            **(d | {"instruments": None if self.instruments is None else tuple(self.instruments)})
        )


def swagger_ui_files() -> Path | None:
    """Swagger UI 5 (it reads OpenAPI 3.1) as shipped in the `swagger-ui-py` wheel, found without importing it."""
    spec = importlib.util.find_spec("swagger_ui")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "static" / "swagger-ui-bundle.js").is_file():
            return Path(folder) / "static"
    return None


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def create_app(service: CoComposer) -> FastAPI:
    app = FastAPI(
        title="musenet co-composer",
        summary="Generate N continuations, pick one, go on: a tree of pieces per session.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    limit = service.cfg.max_upload_bytes
    app.add_middleware(  # + 64 kB: the form's own bytes
        BodyLimit, max_bytes=limit + 64 * 1024, file_limit=limit, read_timeout_s=service.cfg.header_timeout_s
    )
    app.middleware("http")(security_headers)

    @app.exception_handler(NotFound)
    def _not_found(request: Request, e: NotFound) -> JSONResponse:
        return _error(404, str(e))

    @app.exception_handler(TooLarge)
    def _too_large(request: Request, e: TooLarge) -> JSONResponse:
        return _error(413, str(e))

    @app.exception_handler(UserError)
    def _user_error(request: Request, e: UserError) -> JSONResponse:
        return _error(400, str(e))

    @app.exception_handler(MidiError)
    def _midi_error(request: Request, e: MidiError) -> JSONResponse:
        return _error(400, str(e))

    @app.exception_handler(Full)
    def _full(request: Request, e: Full) -> JSONResponse:
        return _error(e.status, str(e), {"Retry-After": str(e.retry_after)})

    @app.exception_handler(QueueFull)
    def _busy(request: Request, e: QueueFull) -> JSONResponse:
        return _error(e.status, str(e), {"Retry-After": str(e.retry_after)})

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return _error(422, f"{where[:40]}: {str(first.get('msg', 'invalid value'))[:120]}")

    @app.exception_handler(Exception)
    def _bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, f"internal error ({type(e).__name__}); the server log has the details")

    # ---- the page and the API docs -------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    docs_files = swagger_ui_files()
    if docs_files is not None:
        app.mount("/docs-static", StaticFiles(directory=docs_files), name="docs-static")

        @app.get("/docs", include_in_schema=False)
        def docs() -> Response:
            return get_swagger_ui_html(
                openapi_url="/openapi.json",
                title=app.title,
                swagger_js_url="/docs-static/swagger-ui-bundle.js",
                swagger_css_url="/docs-static/swagger-ui.css",
                swagger_favicon_url="/docs-static/favicon-32x32.png",
            )

    # ---- the API ---------------------------------------------------------------------------------------------

    @app.get("/api/info", tags=["model"])
    def info() -> dict:
        """The model's styles and instruments, the form's defaults, the server's limits and its queue."""
        return service.info()

    @app.get("/api/styles", tags=["model"])
    def styles() -> list[str]:
        return service.composer.styles

    @app.get("/api/instruments", tags=["model"])
    def instruments() -> list[str]:
        return service.composer.instruments

    @app.post("/api/sessions", status_code=201, tags=["tree"])
    def new_session(request: Request) -> dict:
        """A new, empty tree. Its id is the only key to it: keep it. It lasts until it has been idle for the
        server's `session_idle_s` (GET /api/info); 429 past the sessions one address may hold, 503 when full."""
        return service.new_session(client_key(request.client.host if request.client else None))

    @app.get("/api/sessions/{sid}", tags=["tree"])
    def tree(sid: str) -> dict:
        """Every node of the session's tree, in creation order (each names its parent)."""
        return service.tree(sid)

    @app.post("/api/sessions/{sid}/primer", status_code=201, tags=["tree"])
    def upload(
        sid: str,
        file: Annotated[UploadFile, File(description="a standard MIDI file (at most the upload limit)")],
        seconds: Annotated[float | None, Form(description="keep only the primer's first N seconds")] = None,
    ) -> dict:
        """Uploads a MIDI primer: it becomes a root node to generate from."""
        return service.upload(sid, file.file.read(), file.filename, seconds)

    @app.post("/api/sessions/{sid}/generate", status_code=202, tags=["generate"])
    def generate(sid: str, body: GenerateBody) -> dict:
        """Queues N candidates, from scratch or continuing `primer`; poll GET /api/sessions/{sid}/jobs/{job}."""
        return service.job(service.generate(sid, body.ask(), parent=body.primer).id)

    @app.post("/api/sessions/{sid}/nodes/{nid}/continue", status_code=202, tags=["generate"])
    def continue_node(sid: str, nid: str, body: AskBody) -> dict:
        """Queues N continuations of a node (its notes are kept verbatim); poll GET /api/sessions/{sid}/jobs/{job}."""
        return service.job(service.generate(sid, body.ask(), parent=nid).id)

    @app.get("/api/sessions/{sid}/jobs/{jid}", tags=["generate"])
    def job(sid: str, jid: str) -> dict:
        """A job's status (queued, running, done, error, cancelled), progress 0..1, and its nodes when done."""
        return service.job(jid, sid)

    @app.delete("/api/sessions/{sid}/jobs/{jid}", tags=["generate"])
    def cancel(sid: str, jid: str) -> dict:
        return service.cancel(jid, sid)

    @app.get("/api/sessions/{sid}/nodes/{nid}", tags=["files"])
    def node(sid: str, nid: str) -> dict:
        """A node and its notes, [start s, end s, pitch, velocity, instrument index or -1], for a piano roll."""
        return service.notes(sid, nid)

    @app.get("/api/sessions/{sid}/nodes/{nid}/midi", tags=["files"], response_class=FileResponse)
    def midi(sid: str, nid: str) -> FileResponse:
        path = service.midi_file(sid, nid)
        return FileResponse(path, media_type="audio/midi", filename=f"musenet-{nid[:8]}.mid")

    @app.get("/api/sessions/{sid}/nodes/{nid}/wav", tags=["files"], response_class=FileResponse)
    def wav(sid: str, nid: str, download: bool = False) -> FileResponse:
        """The node's audio, rendered on the server; `download=true` asks the browser to save it."""
        path = service.wav_file(sid, nid)
        name = f"musenet-{nid[:8]}.wav"
        disposition = "attachment" if download else "inline"
        return FileResponse(path, media_type="audio/wav", filename=name, content_disposition_type=disposition)

    @app.post("/api/sessions/{sid}/nodes/{nid}/infill", status_code=202, tags=["generate"])
    def infill(sid: str, nid: str, body: InfillBody) -> dict:
        """Queues N candidates of a node with the span [start, end] regenerated (only `instruments` there, if
        given); the music outside the span is kept note for note. They become the node's children, each with its
        `span`. Poll GET /api/sessions/{sid}/jobs/{job}."""
        return service.job(service.infill(sid, nid, body.ask()).id, sid)

    return app
