"""Writes the MPI wrapper functions (the build runs it, setup.py):

    python generate.py <mpi.h> <wrappers.c> <header.h> <table.c>

For every function of FUNCTIONS that the MPI library's mpi.h declares (as
PMPI_<name>), a wrapper MPI_<name> with the same prototype: it enters the
function's region, calls PMPI_<name> and leaves the region; what records
the function's MPI events is hand-written in wrappers.c (see FUNCTIONS).  The prototypes come from mpi.h itself,
so that the wrappers fit the library they are built against.
"""
import re
import sys

# name, role (Score-P's roles), and what records its events besides the
# region, with the generated wrapper calling hand-written code of
# wrappers.c: "before" (before_<name>(call, args...) ahead of the PMPI_
# call), "after" (after_<name>(call, result, args...) behind it),
# "collective" (mpi_collective_begin(call) ahead, after_<name> behind),
# "newcomm" (a communicator made from the first argument into the last:
# mpi_comm_made(first, *last) behind a successful call), or "manual" (the
# whole wrapper is written by hand: it needs the call's statuses)
FUNCTIONS = """
Init function after
Init_thread function after
Finalize function before
Initialized function
Finalized function
Abort function before
Query_thread function
Is_thread_main function
Get_library_version function
Send point2point before
Bsend point2point before
Ssend point2point before
Rsend point2point before
Recv point2point manual
Isend point2point after
Ibsend point2point after
Issend point2point after
Irsend point2point after
Irecv point2point after
Sendrecv point2point manual
Sendrecv_replace point2point manual
Probe point2point
Iprobe point2point
Mprobe point2point
Improbe point2point
Mrecv point2point
Imrecv point2point
Send_init point2point
Bsend_init point2point
Ssend_init point2point
Rsend_init point2point
Recv_init point2point
Start function
Startall function
Request_free function
Cancel function
Test_cancelled function
Buffer_attach function
Buffer_detach function
Wait function manual
Waitall function manual
Waitany function manual
Waitsome function manual
Test function manual
Testall function manual
Testany function manual
Testsome function manual
Request_get_status function
Barrier barrier collective
Bcast one2all collective
Gather all2one collective
Gatherv all2one collective
Scatter one2all collective
Scatterv one2all collective
Allgather all2all collective
Allgatherv all2all collective
Alltoall all2all collective
Alltoallv all2all collective
Alltoallw all2all collective
Reduce all2one collective
Allreduce all2all collective
Reduce_scatter all2all collective
Reduce_scatter_block all2all collective
Scan other collective
Exscan other collective
Reduce_local function
Ibarrier barrier
Ibcast one2all
Igather all2one
Igatherv all2one
Iscatter one2all
Iscatterv one2all
Iallgather all2all
Iallgatherv all2all
Ialltoall all2all
Ialltoallv all2all
Ialltoallw all2all
Ireduce all2one
Iallreduce all2all
Ireduce_scatter all2all
Ireduce_scatter_block all2all
Iscan other
Iexscan other
Comm_dup function newcomm
Comm_dup_with_info function newcomm
Comm_idup function
Comm_split function newcomm
Comm_split_type function newcomm
Comm_create function newcomm
Comm_create_group function newcomm
Comm_free function
Comm_rank function
Comm_size function
Comm_compare function
Comm_group function
Comm_remote_size function
Comm_remote_group function
Comm_test_inter function
Comm_set_name function
Comm_get_name function
Intercomm_create function
Intercomm_merge function newcomm
Cart_create function newcomm
Cart_sub function newcomm
Graph_create function newcomm
Dist_graph_create function newcomm
Dist_graph_create_adjacent function newcomm
Group_incl function
Group_excl function
Group_range_incl function
Group_range_excl function
Group_union function
Group_intersection function
Group_difference function
Group_free function
Group_size function
Group_rank function
Group_compare function
Group_translate_ranks function
"""

ROLES = {"function": "REGION_ROLE_FUNCTION", "point2point": "REGION_ROLE_POINT2POINT",
         "one2all": "REGION_ROLE_COLL_ONE2ALL", "all2one": "REGION_ROLE_COLL_ALL2ONE",
         "all2all": "REGION_ROLE_COLL_ALL2ALL", "other": "REGION_ROLE_COLL_OTHER", "barrier": "REGION_ROLE_BARRIER"}


def functions():
    for line in FUNCTIONS.strip().splitlines():
        fields = line.split()
        yield fields[0], fields[1], (fields[2] if len(fields) > 2 else "")


def prototypes(header: str) -> dict:
    """PMPI_<name> -> its parameter list, as mpi.h declares it."""
    text = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
    found = {}
    for match in re.finditer(r"\bint\s+PMPI_(\w+)\s*\(([^;]*?)\)\s*(?:__mpi_interface_deprecated__\([^)]*\)\s*)?"
                             r"(?:OMPI_\w+\s*)*;", text, re.S):
        found[match.group(1)] = " ".join(match.group(2).split())
    return found


def split_params(params: str) -> list:
    out, depth, current = [], 0, ""
    for c in params:
        if c == "," and depth == 0:
            out.append(current.strip())
            current = ""
            continue
        depth += c in "([" 
        depth -= c in ")]"
        current += c
    if current.strip():
        out.append(current.strip())
    return [] if out == ["void"] else out


TYPE_WORDS = {"int", "char", "void", "const", "unsigned", "long", "short", "double", "float"}


def named(params: list) -> list:
    """(parameter as declared, with a name, its name): a parameter mpi.h
    leaves unnamed (e.g. "MPI_Op") gets one."""
    out = []
    for i, param in enumerate(params):
        bare = re.sub(r"\[[^\]]*\]", "", param).strip()
        words = re.findall(r"[A-Za-z_]\w*", bare)
        last = words[-1]
        if len(words) == 1 or last in TYPE_WORDS or last.startswith("MPI_") or bare.endswith("*"):
            name = f"arg{i}"
            param = f"{param} {name}"
        else:
            name = last
        out.append((param, name))
    return out


def main(header_path: str, out_c: str, out_h: str, out_table: str) -> int:
    with open(header_path) as handle:
        protos = prototypes(handle.read())
    wrapped = [(name, role, hooks) for name, role, hooks in functions() if name in protos]
    missing = [name for name, _, _ in functions() if name not in protos]
    h = ["/* Written by generate.py from mpi.h: do not edit. */", "#ifndef SCOREP_MPI_GENERATED_H",
         "#define SCOREP_MPI_GENERATED_H", "#include <mpi.h>", "#include \"mpi_call.h\"", "", "enum {"]
    h += [f"    FN_{name}," for name, _, _ in wrapped]
    h += ["    FN_COUNT", "};", "", "extern const mpi_function mpi_functions[FN_COUNT];", ""]
    table = ["/* Written by generate.py from mpi.h: do not edit. */", "#include \"wrappers_generated.h\"", "",
             "const mpi_function mpi_functions[FN_COUNT] = {"]
    table += [f"    [FN_{name}] = {{\"MPI_{name}\", {ROLES[role]}}}," for name, role, _ in wrapped]
    table += ["};", ""]
    c = ["/* Written by generate.py from mpi.h: do not edit. */", "#include \"wrappers_generated.h\"", ""]
    for name, role, how in wrapped:
        if how == "manual":
            continue  # written by hand (wrappers.c)
        pairs = named(split_params(protos[name]))
        params = ", ".join(p for p, _ in pairs)
        names = [n for _, n in pairs]
        tail = f", {params}" if names else ""
        args = ", ".join(names)
        if how == "before":
            h.append(f"void before_{name}(mpi_call *call{tail});")
        if how in ("after", "collective"):
            h.append(f"void after_{name}(mpi_call *call, int mpi_result{tail});")
        c.append(f"SCOREP_MPI_API int MPI_{name}({params if names else 'void'})")
        c.append("{")
        c.append(f"    mpi_call call = {{.function = FN_{name}}};")
        c.append("    mpi_enter(&call);")
        if how == "before":
            c.append("    if (call.recording)")
            c.append(f"        before_{name}(&call{', ' if names else ''}{args});")
        if how == "collective":
            c.append("    if (call.recording)")
            c.append("        mpi_collective_begin(&call);")
        c.append(f"    int mpi_result = PMPI_{name}({args});")
        if how in ("after", "collective"):
            c.append("    if (call.recording)")
            c.append(f"        after_{name}(&call, mpi_result{', ' if names else ''}{args});")
        if how == "newcomm":
            c.append(f"    if (call.recording && mpi_result == MPI_SUCCESS && {names[-1]})")
            c.append(f"        mpi_comm_made({names[0]}, *{names[-1]});")
        c.append("    mpi_leave(&call);")
        c.append("    return mpi_result;")
        c.append("}")
        c.append("")
    h += ["", "#endif", ""]
    with open(out_c, "w") as handle:
        handle.write("\n".join(c))
    with open(out_h, "w") as handle:
        handle.write("\n".join(h))
    with open(out_table, "w") as handle:
        handle.write("\n".join(table))
    if missing:
        sys.stderr.write(f"generate.py: not in {header_path}, not wrapped: {', '.join('MPI_' + m for m in missing)}\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        for name, role, _ in functions():
            print(f"MPI_{name} {role}")
        sys.exit(0)
    sys.exit(main(*sys.argv[1:5]))
