"""AesEditor: the plan-conditioned flow-matching LoRA of Qwen-Image-Edit-Plus (2511).

Public API::

    train_editor(cfg, release_dir, base_model, out, cache_dir, *, revision=None, metrics=None)
        -> summary                                   # stage `editor` (aesformer.editor.stage)
    build_cache(pipe, cfg, release_dir, cache_dir, model) -> CacheResult   # aesformer.editor.cache
    register_editor(...), load_editor(...), AesEditorModel                 # aesformer.editor.registry

Heavy libraries (torch, diffusers, peft, mlflow) load when a submodule is imported; this
package file imports nothing. See docs/editor.md.
"""
