"""The paper's manual curation step (§3.1) as a local web page: review a curation run's AVSync-AC
candidates, accept / reject / skip each clip, export the accepted ones as an AVSync15 manifest.

    python -m curation.review --run DIR [--port N] [--classes FILE] [--reviewer NAME]
    python -m curation.review --run DIR --export data/avsync15.parquet

Modules: `candidates` (what is reviewed), `decisions` (the durable log), `clip_cache` (playable
cuts of each clip's window), `session` (progress, finish marker and hook), `app` (HTTP API and
the static page), `export` (stratified split + the AVSync15 writer). No Prefect here.
"""
