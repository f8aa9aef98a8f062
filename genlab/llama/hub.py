"""`hf:OWNER/REPO/FILE.gguf` names: the file is fetched once into the Hugging Face cache (it
needs the optional huggingface-hub package), and every failure becomes one clear line."""

from __future__ import annotations

from pathlib import Path

from genlab.errors import GenlabError


def parse_hf(spec: str) -> tuple[str, str]:
    """"OWNER/REPO/FILE.gguf" (FILE may be in a folder) -> ("OWNER/REPO", "FILE.gguf")."""
    parts = spec.strip().split("/")
    if len(parts) < 3 or not all(parts):
        raise GenlabError(f"hf:{spec} is not hf:OWNER/REPO/FILE.gguf "
                          "(for example hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf)")
    return "/".join(parts[:2]), "/".join(parts[2:])


def hf_download(spec: str) -> Path:
    """Download (or find in the Hugging Face cache) the file of hf:OWNER/REPO/FILE."""
    repo, filename = parse_hf(spec)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise GenlabError("hf: models need huggingface-hub: pip install 'genlab[hf]'") from None
    from genlab import __version__

    try:
        return Path(hf_hub_download(repo_id=repo, filename=filename, library_name="genlab",
                                    library_version=__version__))
    except Exception as exc:  # huggingface_hub's errors differ between versions: go by class name
        raise GenlabError(_hf_error(exc, repo, filename)) from None


def _hf_error(exc: BaseException, repo: str, filename: str) -> str:
    kinds = {c.__name__ for c in type(exc).__mro__}
    what = f"hf:{repo}/{filename}"
    if "OfflineModeIsEnabled" in kinds or "LocalEntryNotFoundError" in kinds:
        return (f"cannot download {what}: no connection to the Hugging Face Hub (or HF_HUB_OFFLINE is set) "
                "and the file is not in the local cache")
    if "GatedRepoError" in kinds:
        return f"{repo} is a gated repository: accept its terms on huggingface.co and log in (hf auth login)"
    if "RepositoryNotFoundError" in kinds:
        return f"no repository {repo} on the Hugging Face Hub (or it is private: log in with 'hf auth login')"
    if "EntryNotFoundError" in kinds or "RemoteEntryNotFoundError" in kinds:
        return f"no file {filename!r} in the Hugging Face repository {repo}"
    if "RevisionNotFoundError" in kinds:
        return f"revision not found in the Hugging Face repository {repo}"
    if "HFValidationError" in kinds:
        return f"{repo!r} is not a valid Hugging Face repository id (OWNER/REPO)"
    detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    return f"downloading {what} failed: {detail}"
