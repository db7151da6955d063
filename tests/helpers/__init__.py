"""Readers and models the tests share: OTF2 traces and CUBE4 profiles."""
