"""The browser app: segment a video by painting masks, propagating them with the model, and correcting them.

`python -m vosjax.app` (`__main__`) serves one page (`static/`) and a JSON API (`server`) over a workspace folder
(`workspace`); a worker thread (`worker`) opens videos (`video_import`), compiles and propagates (`propagation`), and
the export zip is written by `export`. Needs the `app` extra (Starlette, uvicorn, python-multipart).
"""
