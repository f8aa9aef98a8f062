"""`genlab personas list|show`: the personas `genlab chat --persona` can use."""

from __future__ import annotations

import click

from genlab.cli.completers import complete_persona


@click.group(name="personas")
def personas() -> None:
    """Personas for 'genlab chat': system prompt, few-shot turns, sampling, greeting.

    Built-in personas ship with genlab; add your own as NAME.toml (or a SillyTavern
    Character Card V2 NAME.json, or an Ollama NAME.Modelfile) in the personas folder of
    genlab's user data folder ($GENLAB_HOME/personas when GENLAB_HOME is set), or pass a
    file to --persona.

    \b
    Examples:
      genlab personas list
      genlab personas show pogi
      genlab personas show pogi > my-persona.toml   # a starting point for your own
      genlab personas show pogi --format modelfile > pogi.Modelfile   # for Ollama too
    """


@personas.command(name="list")
def list_command() -> None:
    """List the personas: name, where it comes from, and what it is like."""
    from genlab.chat.persona import list_personas
    from genlab.folders import personas_dir

    rows = list_personas()
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        where = "built-in" if r["source"] == "built-in" else "user"
        click.echo(f"{r['name']:<{width}}  {where:<8}  {r['description']}")
    click.echo(f"\nyour own personas: {personas_dir()}/NAME.toml (or a Character Card V2 NAME.json, "
               "or an Ollama NAME.Modelfile)")


@personas.command(name="show")
@click.argument("name_or_path", shell_complete=complete_persona)
@click.option("--format", "form", type=click.Choice(["toml", "modelfile"]), default="toml", show_default=True,
              help="toml: genlab's persona file; modelfile: an Ollama Modelfile (SYSTEM, PARAMETER, MESSAGE), "
                   "which --persona reads back as the same persona.")
def show(name_or_path: str, form: str) -> None:
    """Print a persona as TOML or as an Ollama Modelfile (a Character Card or a Modelfile is
    shown converted), with its effective settings in a comment.

    NAME_OR_PATH is a persona name or a .toml, .json or Modelfile file.

    In a Modelfile the greeting is the last MESSAGE assistant, answering no user: Ollama shows
    it as the chat's last turn and the model sees it there, as genlab's greeting.
    """
    from genlab.chat.persona import load_persona

    persona = load_persona(name_or_path)
    if form == "modelfile":
        from genlab.chat.modelfile import persona_modelfile as write
    else:
        from genlab.tomledit import dumps as write
    text = write(persona.to_dict())  # a persona that cannot be written fails before anything is printed
    settings = " ".join(f"{k}={v!r}" for k, v in persona.sampling().to_dict().items())
    click.echo(f"# {persona.name} ({persona.source})\n# settings in a chat: {settings}")
    click.echo(text, nl=False)
