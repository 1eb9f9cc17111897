"""Issue 16 against the co-composer: each way one client could hang, starve or wipe the server, reproduced.

Through FastAPI's TestClient with the small random model of test_web_api, except the slow-client cases, which need
a real uvicorn server and real sockets.
"""

import socket
import threading
import time

import numpy as np
import pytest
import uvicorn
from test_web_api import SMALL, composer, finish, make_client, one_line_error, primer_midi, session  # noqa: F401

from musenet.codec.events import Piece, make_notes
from musenet.codec.midi_io import midi_bytes
from musenet.web.app import create_app
from musenet.web.limits import header_timeout_protocol


@pytest.fixture
def served(composer, musenet_home):  # noqa: F811
    made = []

    def make(**limits):
        client, service = make_client(composer, musenet_home / f"web{len(made)}", **limits)
        made.append(service)
        return client, service

    yield make
    for service in made:
        service.close()


def upload(client, sid, data: bytes, name="p.mid", **form):
    return client.post(f"/api/sessions/{sid}/primer", files={"file": (name, data)}, data=form)


def notes_midi(n: int, seconds: float) -> bytes:
    t = np.linspace(0, seconds, n, endpoint=False)
    return midi_bytes(Piece(make_notes(t, t + 0.05, 36 + np.arange(n) % 60, 80, 0)))


# ---- finding 1: uploads and on-demand renders cost what the limits allow, no more -----------------------------


def test_a_primer_with_too_many_notes_is_refused_naming_the_limit(served):
    client, _ = served(max_primer_notes=500)
    sid = session(client)
    r = upload(client, sid, notes_midi(600, 60.0))  # 10 notes/s: sparse, but more notes than the limit
    one_line_error(r, 413, "limit of 500 notes")
    assert client.get(f"/api/sessions/{sid}").json()["nodes"] == []
    assert upload(client, sid, notes_midi(600, 60.0), seconds="30").status_code == 201  # its first 30 s fit


def test_a_primer_too_dense_to_render_or_continue_is_refused(served):
    client, _ = served()
    r = upload(client, session(client), notes_midi(2000, 5.0))  # 400 notes a second
    one_line_error(r, 413, "notes per second")


def test_an_on_demand_render_waits_for_no_one_past_the_pool(served):
    client, service = served()
    sid = session(client)
    nid = upload(client, sid, primer_midi()).json()["id"]
    assert service._renders.acquire(blocking=False)  # another primer's render is running
    try:
        r = client.get(f"/api/sessions/{sid}/nodes/{nid}/wav")
        one_line_error(r, 503, "rendering audio")
        assert int(r.headers["retry-after"]) >= 1
    finally:
        service._renders.release()
    assert client.get(f"/api/sessions/{sid}/nodes/{nid}/wav").status_code == 200


def test_an_on_demand_render_past_its_time_limit_stops_and_leaves_nothing(served, musenet_home):
    client, service = served(render_timeout_s=1e-9)
    sid = session(client)
    nid = upload(client, sid, primer_midi(20.0)).json()["id"]
    before = service.store.total_bytes
    one_line_error(client.get(f"/api/sessions/{sid}/nodes/{nid}/wav"), 413, "to render")
    assert service.store.total_bytes == before and not list(musenet_home.rglob("*.wav"))


# ---- finding 2: a flood of sessions wipes nobody's tree ------------------------------------------------------


def test_a_flood_of_sessions_leaves_a_working_user_alone(served):
    client, service = served(sessions_per_client=8)
    user = session(client)
    nid = upload(client, user, primer_midi()).json()["id"]
    statuses = [client.post("/api/sessions").status_code for _ in range(200)]
    assert statuses.count(201) == 7 and set(statuses) == {201, 429}
    r = client.post("/api/sessions")
    one_line_error(r, 429, "from your address")
    assert int(r.headers["retry-after"]) >= 1
    assert client.get(f"/api/sessions/{user}/nodes/{nid}").status_code == 200  # still there, still working
    job = finish(client, client.post(f"/api/sessions/{user}/nodes/{nid}/continue", json=SMALL).json())
    assert job["status"] == "done"


def test_a_full_server_says_so_instead_of_evicting(served):
    client, service = served(max_sessions=3)
    users = [session(client) for _ in range(3)]
    one_line_error(client.post("/api/sessions"), 503, "server is full")
    assert all(client.get(f"/api/sessions/{u}").status_code == 200 for u in users)


# ---- finding 4: a primer is validated when it is uploaded -----------------------------------------------------


def test_a_primer_with_time_division_zero_is_refused_at_upload(served):
    client, _ = served()
    data = bytearray(primer_midi())
    data[12:14] = b"\x00\x00"
    one_line_error(upload(client, session(client), bytes(data)), 400, "time division 0")


# ---- finding 5: the store cap is a cap ------------------------------------------------------------------------


def test_a_job_that_would_pass_the_store_cap_leaves_the_store_under_it(served, musenet_home):
    client, service = served()
    sid = session(client)
    job = finish(client, client.post(f"/api/sessions/{sid}/generate", json=SMALL).json())
    assert job["status"] == "done"
    one_job = service.store.total_bytes
    service.store.max_bytes = int(1.5 * one_job)  # room for half of the next job's files
    job = finish(client, client.post(f"/api/sessions/{sid}/generate", json=SMALL).json())
    assert job["status"] == "error" and "storage is full" in job["error"]
    on_disk = sum(p.stat().st_size for p in musenet_home.rglob("*") if p.is_file())
    assert on_disk == service.store.total_bytes == one_job <= service.store.max_bytes


# ---- finding 6: jobs belong to their session; errors quote little --------------------------------------------


def test_a_job_id_alone_reads_and_cancels_nothing(served):
    client, _ = served()
    mine, other = session(client), session(client)
    job = client.post(f"/api/sessions/{mine}/generate", json=SMALL).json()
    assert client.get(f"/api/jobs/{job['job']}").status_code == 404  # the old, session-less address is gone
    assert client.delete(f"/api/jobs/{job['job']}").status_code in (404, 405)
    one_line_error(client.get(f"/api/sessions/{other}/jobs/{job['job']}"), 404, "unknown or expired job")
    one_line_error(client.delete(f"/api/sessions/{other}/jobs/{job['job']}"), 404, "unknown or expired job")
    assert finish(client, job)["status"] == "done"


@pytest.mark.parametrize(
    "field, value",
    [
        ("instruments", ["x" * 500_000]),
        ("style", "y" * 500_000),
        ("top_k", "9" * 4000),
        ("seconds", "z" * 10**5),
    ],
)
def test_errors_quote_a_few_dozen_characters_at_most(served, field, value):
    client, _ = served()
    r = client.post(f"/api/sessions/{session(client)}/generate", json=SMALL | {field: value})
    assert r.status_code in (400, 422) and len(r.json()["detail"]) < 400, r.text[:500]


def test_a_long_file_name_is_not_echoed_whole(served):
    client, _ = served()
    r = upload(client, session(client), b"MThd" + b"\0" * 20, name="n" * 5000 + ".mid")
    assert r.status_code == 400 and len(r.json()["detail"]) < 200


# ---- slow clients ----------------------------------------------------------------------------------------------


@pytest.fixture
def real_server(served):
    _, service = served(header_timeout_s=0.5)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(service), log_level="warning", http=header_timeout_protocol(0.5), timeout_keep_alive=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield sock.getsockname()
    server.should_exit = True
    thread.join(10)


def read_all(conn: socket.socket, timeout: float) -> bytes:
    conn.settimeout(timeout)
    out = b""
    try:
        while chunk := conn.recv(65536):
            out += chunk
    except TimeoutError:
        out += b"<still open>"
    return out


def test_a_client_that_sends_its_headers_slowly_is_cut_off(real_server):
    with socket.create_connection(real_server) as conn:
        conn.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\n")  # ...and never the blank line
        t0 = time.monotonic()
        assert read_all(conn, 5.0) == b"" and time.monotonic() - t0 < 3
    with socket.create_connection(real_server) as idle:  # one that sends nothing at all
        assert read_all(idle, 5.0) == b""
    with socket.create_connection(real_server) as conn:  # a prompt client is served
        conn.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all(conn, 5.0).startswith(b"HTTP/1.1 200")


def test_a_body_that_arrives_too_slowly_is_answered_408(real_server):
    with socket.create_connection(real_server) as conn:
        conn.sendall(
            b"POST /api/sessions/x/primer HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 1000\r\n\r\n--b\r\n"
        )
        reply = read_all(conn, 5.0)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]


def test_a_client_is_an_ipv4_address_or_an_ipv6_network():
    from musenet.web.limits import client_key

    assert client_key("127.0.0.1") == "127.0.0.1" and client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:2") == "2001:db8::/64"
    assert client_key("2001:db8:0:1::1") != client_key("2001:db8::1")
    assert client_key("testclient") == "testclient" and client_key(None) == ""
