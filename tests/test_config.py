"""Settings: values derived from others."""
from rag.config import Settings


def test_cross_lingual_similarity_floor_is_calibrated_only_for_the_default_embedder():
    assert Settings().cross_lingual_similarity_floor == 0.77
    assert Settings(embedder="sentence-transformers/all-MiniLM-L6-v2").cross_lingual_similarity_floor == 0.0
    assert Settings(embedder_url="http://localhost:9/v1").cross_lingual_similarity_floor == 0.0
    assert Settings(cross_lingual_min_similarity=0.5, embedder_url="http://x/v1").cross_lingual_similarity_floor == 0.5
