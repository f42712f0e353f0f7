"""Evaluation metrics (numpy only; no model, no data pipeline)."""

from vosjax.metrics.davis import (GLOBAL_COLUMNS, SEQUENCE_COLUMNS, SequenceScores, Summary, boundary_measure,
                                  boundary_radius, format_table, object_statistics, region_similarity,
                                  remove_csvs, score_sequence, seg2bmap, summarize, write_csvs)

__all__ = ['GLOBAL_COLUMNS', 'SEQUENCE_COLUMNS', 'SequenceScores', 'Summary', 'boundary_measure', 'boundary_radius',
           'format_table', 'object_statistics', 'region_similarity', 'remove_csvs', 'score_sequence', 'seg2bmap', 'summarize',
           'write_csvs']
