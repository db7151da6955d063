"""Writes the MPI wrapper functions (the build runs it, setup.py):

    python generate.py <mpi.h> <wrappers.c> <header.h> <table.c>

For every function of FUNCTIONS that the MPI library's mpi.h declares (as
PMPI_<name>), a wrapper MPI_<name> with the same prototype: it enters the
function's region, calls PMPI_<name> and leaves the region.  Functions
marked with hooks also call before_<name>(call, args...) and
after_<name>(call, result, args...), written by hand in wrappers.c, which
record the function's MPI events.  The prototypes come from mpi.h itself,
so that the wrappers fit the library they are built against.
"""
import re
import sys

# name, role (Score-P's roles), and what records its events: "hooks" (the
# generated wrapper calls before_/after_<name>) or "manual" (the whole
# wrapper is written by hand in wrappers.c: it needs the call's statuses)
FUNCTIONS = """
Init function hooks
Init_thread function hooks
Finalize function hooks
Initialized function
Finalized function
Abort function hooks
Query_thread function
Is_thread_main function
Get_library_version function
Send point2point hooks
Bsend point2point hooks
Ssend point2point hooks
Rsend point2point hooks
Recv point2point manual
Isend point2point hooks
Ibsend point2point hooks
Issend point2point hooks
Irsend point2point hooks
Irecv point2point hooks
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
Barrier barrier hooks
Bcast one2all hooks
Gather all2one hooks
Gatherv all2one hooks
Scatter one2all hooks
Scatterv one2all hooks
Allgather all2all hooks
Allgatherv all2all hooks
Alltoall all2all hooks
Alltoallv all2all hooks
Alltoallw all2all hooks
Reduce all2one hooks
Allreduce all2all hooks
Reduce_scatter all2all hooks
Reduce_scatter_block all2all hooks
Scan other hooks
Exscan other hooks
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
Comm_dup function hooks
Comm_dup_with_info function hooks
Comm_idup function
Comm_split function hooks
Comm_split_type function hooks
Comm_create function hooks
Comm_create_group function hooks
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
Intercomm_merge function hooks
Cart_create function hooks
Cart_sub function hooks
Graph_create function hooks
Dist_graph_create function hooks
Dist_graph_create_adjacent function hooks
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
        hooks = how == "hooks"
        if how == "manual":
            continue  # written by hand (wrappers.c)
        pairs = named(split_params(protos[name]))
        params = ", ".join(p for p, _ in pairs)
        names = [n for _, n in pairs]
        args = ", ".join(names)
        if hooks:
            h.append(f"void before_{name}(mpi_call *call{', ' if names else ''}{params if names else ''});")
            h.append(f"void after_{name}(mpi_call *call, int mpi_result{', ' if names else ''}{params if names else ''});")
        c.append(f"SCOREP_MPI_API int MPI_{name}({params if names else 'void'})")
        c.append("{")
        c.append(f"    mpi_call call = {{.function = FN_{name}}};")
        c.append("    mpi_enter(&call);")
        if hooks:
            c.append(f"    if (call.recording)")
            c.append(f"        before_{name}(&call{', ' if names else ''}{args});")
        c.append(f"    int mpi_result = PMPI_{name}({args});")
        if hooks:
            c.append(f"    if (call.recording)")
            c.append(f"        after_{name}(&call, mpi_result{', ' if names else ''}{args});")
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
