"""Correcting who said what: split a line, merge speakers, add a speaker, separate the voices again."""
