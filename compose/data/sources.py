"""Dataset source configs (the ``dataset`` slot of a recipe): torch-free pydantic models.

Each config is a frozen pydantic model with a ``source`` tag and a ``load()`` that returns
:class:`~compose.data.offline.OfflineData`; torch and the file readers are imported inside
``load`` so recipes validate without torch.
Why only two sources: the factory's datasets *are* Minari datasets (``compose/<env>/<q>-v0``),
so "generated" is the ``minari`` source with a factory-makeable id, made on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from compose.registry import ComponentConfig

if TYPE_CHECKING:
    from compose.data.offline import OfflineData


class MinariSource(ComponentConfig):
    """A Minari dataset by id, from the local store; made (compose/...) or downloaded if absent.

    Ids ``compose/<env>/<quality>-v0`` are made by the dataset factory with ``seed`` on first
    use and cached in the store; other ids are downloaded when ``download`` is true and the
    network allows.
    """

    kind: ClassVar[str] = "dataset"
    source: Literal["minari"] = "minari"
    id: str = Field(description="Minari dataset id, e.g. mujoco/hopper/medium-v0.")
    download: bool = Field(True, description="Try minari.download_dataset when absent.")
    seed: int = Field(0, description="Factory seed, used only when a compose/ id is made.")

    def load(self) -> OfflineData:
        """Read (or make / download) the dataset and return validated tensors."""
        from compose.data.loading import load_minari

        return load_minari(self.id, download=self.download, seed=self.seed)


class D4RLHdf5Source(ComponentConfig):
    """A D4RL-layout .hdf5 file on disk, evaluated in the Gymnasium env ``env_id``."""

    kind: ClassVar[str] = "dataset"
    source: Literal["d4rl_hdf5"] = "d4rl_hdf5"
    path: Path = Field(description="Path to the .hdf5 file.")
    env_id: str = Field(description="Gymnasium id to evaluate in, e.g. Hopper-v5.")

    def load(self) -> OfflineData:
        """Read the file and return validated tensors."""
        from compose.data.loading import load_d4rl_hdf5

        return load_d4rl_hdf5(self.path, self.env_id)


#: The dataset source configs, registered as the ``dataset`` kind by compose._builtin_plugin.
DATASET_SOURCES: list[type[ComponentConfig]] = [MinariSource, D4RLHdf5Source]
