"""Where the shipped resources live (resources/ at the repository root)."""

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
TINY_SAM_PATH = RESOURCES / "models" / "tiny_sam.pth"
DEMO_DATASET = RESOURCES / "demo_dataset"
