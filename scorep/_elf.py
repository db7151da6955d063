"""The shared libraries an ELF file needs (its DT_NEEDED entries), read
from the file itself: which MPI library a module was linked against."""
import struct

_DT_NEEDED, _DT_STRTAB, _PT_DYNAMIC, _PT_LOAD = 1, 5, 2, 1


def needed(path: str) -> list:
    """The sonames path needs, in order; [] if it is no ELF file of this kind."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return []
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only
        return []
    order = "<" if data[5] == 1 else ">"
    phoff, = struct.unpack_from(order + "Q", data, 0x20)
    phentsize, phnum = struct.unpack_from(order + "HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from(order + "IIQQQQQQ", data,
                                                                             phoff + i * phentsize)
        if p_type == _PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == _PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return []

    def file_offset(address: int) -> int:
        for vaddr, offset, size in loads:
            if vaddr <= address < vaddr + size:
                return address - vaddr + offset
        return -1

    entries, strtab = [], -1
    for at in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from(order + "qQ", data, at)
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            entries.append(value)
        elif tag == _DT_STRTAB:
            strtab = file_offset(value)
    if strtab < 0:
        return []
    names = []
    for offset in entries:
        end = data.find(b"\0", strtab + offset)
        names.append(data[strtab + offset:end].decode("utf-8", "replace"))
    return names
