"""The web co-composer (`musenet serve`): a thin FastAPI layer over a session tree, a job queue and the Composer.

config.py   ServeConfig: every limit the server enforces, in one frozen dataclass
store.py    sessions and their trees of nodes, with their MIDI/WAV files on disk under a size cap
jobs.py     one worker thread owning the model, a bounded queue, a time limit per job
service.py  the co-composer: requests -> jobs -> nodes (all the logic the web layer calls)
app.py      the HTTP routes (FastAPI) and the static page; no logic of its own
cli.py      `musenet serve`
"""
