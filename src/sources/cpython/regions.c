/* Region names, as Score-P's Python bindings spell them:
 *   Python functions  module:function, methods module.Class:method
 *   C functions       module:function, methods module.Type:method
 * Names are computed once per code object (cached in its co_extra slot) or
 * per C method definition (cached in a pointer map); the hot path only reads
 * the cache. */
#include "regions.h"

#include <string.h>
#include <unistd.h>

Py_ssize_t regions_extra_index = -1;
bool regions_extra_direct;
Py_ssize_t regions_extra_fast_index = PY_SSIZE_T_MAX;
static PyObject *own_dir;      /* str: our package directory, its code is never recorded */
ptrmap regions_c_functions;
static PyObject *own_module_name;

bool regions_init(PyObject *own_package_dir)
{
    if (regions_extra_index < 0) {
#if PY_VERSION_HEX >= 0x030C0000
        regions_extra_index = PyUnstable_Eval_RequestCodeExtraIndex(NULL);
#else
        regions_extra_index = _PyEval_RequestCodeExtraIndex(NULL);
#endif
        if (regions_extra_index < 0)
            return false;
        /* check the slot layout on a throw-away code object */
        PyCodeObject *probe = PyCode_NewEmpty("scorep", "probe", 1);
        if (probe) {
            void *marker = (void *)(uintptr_t)0x5c0e9;
#if PY_VERSION_HEX >= 0x030C0000
            PyUnstable_Code_SetExtra((PyObject *)probe, regions_extra_index, marker);
#else
            _PyCode_SetExtra((PyObject *)probe, regions_extra_index, marker);
#endif
            const code_extra_layout *e = (const code_extra_layout *)probe->co_extra;
            regions_extra_direct = e && regions_extra_index < e->size && e->extras[regions_extra_index] == marker;
            if (regions_extra_direct)
                regions_extra_fast_index = regions_extra_index;
            Py_DECREF(probe);
        }
        PyErr_Clear();
    }
    Py_XINCREF(own_package_dir);
    Py_XSETREF(own_dir, own_package_dir);
    if (!regions_c_functions.slots && !ptrmap_init(&regions_c_functions)) {
        PyErr_NoMemory();
        return false;
    }
    if (!own_module_name)
        own_module_name = PyUnicode_FromString("scorep._native");
    return true;
}

static void set_extra(PyCodeObject *code, uint32_t region)
{
    void *value = (void *)(uintptr_t)((uintptr_t)region + 1);
#if PY_VERSION_HEX >= 0x030C0000
    PyUnstable_Code_SetExtra((PyObject *)code, regions_extra_index, value);
#else
    _PyCode_SetExtra((PyObject *)code, regions_extra_index, value);
#endif
}

bool regions_is_own_file(PyObject *filename)
{
    if (!own_dir || !PyUnicode_Check(filename))
        return false;
    Py_ssize_t n = PyUnicode_GetLength(own_dir);
    return PyUnicode_Tailmatch(filename, own_dir, 0, n, -1) == 1;
}

#if PY_VERSION_HEX < 0x030B0000
/* Python < 3.11 has no co_qualname: find the class defining this code by
 * looking through the module's classes (and classes nested in them). */
static PyObject *find_in_class(PyObject *cls, PyCodeObject *code, PyObject *prefix, int depth)
{
    PyObject *dict = PyObject_GetAttrString(cls, "__dict__");
    if (!dict) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *items = PyMapping_Items(dict);
    Py_DECREF(dict);
    if (!items) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *found = NULL;
    for (Py_ssize_t i = 0; !found && i < PyList_GET_SIZE(items); i++) {
        PyObject *pair = PyList_GET_ITEM(items, i);
        PyObject *value = PyTuple_GET_ITEM(pair, 1);
        PyObject *func = value;
        if (PyObject_TypeCheck(value, &PyStaticMethod_Type) || PyObject_TypeCheck(value, &PyClassMethod_Type)) {
            func = PyObject_GetAttrString(value, "__func__");
            if (!func) {
                PyErr_Clear();
                continue;
            }
        } else {
            Py_INCREF(func);
        }
        bool match = PyFunction_Check(func) && PyFunction_GET_CODE(func) == (PyObject *)code;
        /* decorated with functools.wraps: look through __wrapped__ */
        PyObject *inner = func;
        Py_INCREF(inner);
        for (int hops = 0; !match && hops < 8; hops++) {
            PyObject *wrapped = PyObject_GetAttrString(inner, "__wrapped__");
            Py_DECREF(inner);
            inner = wrapped;
            if (!inner) {
                PyErr_Clear();
                break;
            }
            match = PyFunction_Check(inner) && PyFunction_GET_CODE(inner) == (PyObject *)code;
        }
        Py_XDECREF(inner);
        if (!match && PyObject_TypeCheck(value, &PyProperty_Type)) {
            static const char *const accessors[] = {"fget", "fset", "fdel"};
            for (int a = 0; a < 3 && !match; a++) {
                PyObject *accessor = PyObject_GetAttrString(value, accessors[a]);
                match = accessor && PyFunction_Check(accessor) && PyFunction_GET_CODE(accessor) == (PyObject *)code;
                Py_XDECREF(accessor);
                PyErr_Clear();
            }
        }
        if (match) {
            Py_INCREF(prefix);
            found = prefix;
        } else if (PyType_Check(value) && depth < 3) {
            PyObject *nested = PyUnicode_FromFormat("%U.%U", prefix, PyTuple_GET_ITEM(pair, 0));
            if (nested) {
                found = find_in_class(value, code, nested, depth + 1);
                Py_DECREF(nested);
            }
        }
        Py_DECREF(func);
    }
    Py_DECREF(items);
    return found;
}

static PyObject *class_path_legacy(PyCodeObject *code, PyObject *globals)
{
    if (!globals || !PyDict_Check(globals))
        return NULL;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(globals, &pos, &key, &value)) {
        if (!PyType_Check(value) || !PyUnicode_Check(key))
            continue;
        PyObject *module = PyObject_GetAttrString(value, "__module__");
        PyObject *here = PyDict_GetItemString(globals, "__name__");
        int same = module && here && PyObject_RichCompareBool(module, here, Py_EQ) == 1;
        Py_XDECREF(module);
        PyErr_Clear();
        if (!same)
            continue;
        PyObject *found = find_in_class(value, code, key, 0);
        if (found)
            return found;
    }
    return NULL;
}
#endif

/* "__main__", kept for good (NULL when out of memory). */
static PyObject *main_module_name(void)
{
    static PyObject *name;
    if (!name)
        name = PyUnicode_InternFromString("__main__");
    return name;
}

/* A string made once and kept (no new object per region named). */
static PyObject *kept_string(PyObject **slot, const char *text)
{
    if (!*slot)
        *slot = PyUnicode_InternFromString(text);
    return *slot;
}

/* globals["__name__"], borrowed; NULL without an exception if none. */
static PyObject *module_name_of(PyObject *globals)
{
    static PyObject *key;
    if (!globals || !PyDict_Check(globals) || !kept_string(&key, "__name__"))
        return NULL;
    return PyDict_GetItem(globals, key);
}

/* "module:function" or "module.Class:method" for a code object. */
PyObject *regions_code_name(PyCodeObject *code, PyObject *globals)
{
    PyObject *module = module_name_of(globals);
    if (!module || !PyUnicode_Check(module))
        module = NULL;
    /* multiprocessing runs the program's main module in its spawned
     * children as __mp_main__: the same functions as __main__'s */
    if (module && PyUnicode_CompareWithASCIIString(module, "__mp_main__") == 0)
        module = main_module_name();
    PyObject *module_name = module ? module : PyUnicode_FromString("__unknown__");
    if (!module)
        ; /* new reference created above */
    else
        Py_INCREF(module_name);
    PyObject *result = NULL;
#if PY_VERSION_HEX >= 0x030B0000
    PyObject *qualname = code->co_qualname;
    Py_INCREF(qualname);
    /* Functions nested in functions are named by their own name, as the
     * original bindings do; a class nested in a function keeps its path. */
    Py_ssize_t len = PyUnicode_GetLength(qualname);
    static PyObject *locals_marker;
    PyObject *marker = kept_string(&locals_marker, ".<locals>.");
    Py_ssize_t at = marker ? PyUnicode_Find(qualname, marker, 0, len, -1) : -1;
    if (at >= 0) {
        PyObject *tail = PyUnicode_Substring(qualname, at + 10, len);
        Py_SETREF(qualname, tail);
        len = PyUnicode_GetLength(qualname);
    }
    Py_ssize_t dot = PyUnicode_FindChar(qualname, '.', 0, len, -1);
    if (dot >= 0) {
        PyObject *cls = PyUnicode_Substring(qualname, 0, dot);
        PyObject *fn = PyUnicode_Substring(qualname, dot + 1, len);
        result = PyUnicode_FromFormat("%U.%U:%U", module_name, cls, fn);
        Py_DECREF(cls);
        Py_DECREF(fn);
    } else {
        result = PyUnicode_FromFormat("%U:%U", module_name, qualname);
    }
    Py_DECREF(qualname);
#else
    PyObject *cls = class_path_legacy(code, globals);
    if (cls) {
        result = PyUnicode_FromFormat("%U.%U:%U", module_name, cls, code->co_name);
        Py_DECREF(cls);
    } else {
        result = PyUnicode_FromFormat("%U:%U", module_name, code->co_name);
    }
#endif
    Py_DECREF(module_name);
    return result;
}

/* A str as the NUL-terminated UTF-8 text the core stores: lone
 * surrogates (and any other code point UTF-8 cannot hold) as \\udcxx, NUL
 * as \\x00, so every name is recorded.  The text lives in *holder (a new
 * reference to release); NULL only when memory is short. */
const char *regions_text(PyObject *text, PyObject **holder)
{
    *holder = NULL;
    if (!text || !PyUnicode_Check(text))
        return NULL;
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 && !memchr(utf8, '\0', (size_t)size))
        return utf8;
    PyErr_Clear();
    PyObject *bytes = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
    if (!bytes) {
        PyErr_Clear();
        return NULL;
    }
    const char *data = PyBytes_AS_STRING(bytes);
    Py_ssize_t n = PyBytes_GET_SIZE(bytes), nuls = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        nuls += data[i] == '\0';
    if (nuls) {
        PyObject *escaped = PyBytes_FromStringAndSize(NULL, n + 3 * nuls);
        if (!escaped) {
            Py_DECREF(bytes);
            PyErr_Clear();
            return NULL;
        }
        char *out = PyBytes_AS_STRING(escaped);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (data[i] == '\0') {
                memcpy(out, "\\x00", 4);
                out += 4;
            } else {
                *out++ = data[i];
            }
        }
        Py_SETREF(bytes, escaped);
    }
    *holder = bytes;
    return PyBytes_AS_STRING(bytes);
}

/* The file name made absolute without calling Python code (which the
 * instrumenter would record). */
PyObject *regions_absolute_file(PyObject *filename)
{
    PyObject *holder;
    const char *f = regions_text(filename, &holder);
    if (!f)
        return PyUnicode_FromString("");
    char cwd[4096];
    if (f[0] == '/' || f[0] == '<' || f[0] == '\0' || !getcwd(cwd, sizeof cwd)) {
        Py_XDECREF(holder);
        return Py_NewRef(filename);
    }
    while (f[0] == '.' && f[1] == '/')
        f += 2;
    PyObject *absolute = PyUnicode_FromFormat("%s/%s", cwd, f);
    Py_XDECREF(holder);
    return absolute;
}

uint32_t regions_name_code(PyCodeObject *code, PyObject *globals)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    uint32_t region = REGION_SKIP;
    if (!regions_is_own_file(code->co_filename)) {
        PyObject *name = regions_code_name(code, globals);
        PyObject *module = module_name_of(globals);
        if (module && PyUnicode_Check(module) && PyUnicode_CompareWithASCIIString(module, "__mp_main__") == 0)
            module = main_module_name();
        PyObject *file = regions_absolute_file(code->co_filename);
        PyObject *name_holder, *module_holder, *file_holder;
        const char *name_s = regions_text(name, &name_holder);
        const char *module_s = regions_text(module, &module_holder);
        const char *file_s = regions_text(file, &file_holder);
        if (name_s && scorep_region_filtered(name_s, file_s ? file_s : ""))
            region = REGION_FILTERED;
        else if (name_s)
            region = scorep_region_define(name_s, module_s ? module_s : "", file_s ? file_s : "",
                                          (uint32_t)code->co_firstlineno, REGION_ROLE_FUNCTION, REGION_PARADIGM_USER);
        PyErr_Clear();
        Py_XDECREF(name_holder);
        Py_XDECREF(module_holder);
        Py_XDECREF(file_holder);
        Py_XDECREF(name);
        Py_XDECREF(file);
    }
    set_extra(code, region);
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return region;
}

/* The type in `type`'s MRO whose method table holds `def` (NULL if none),
 * so an inherited C method is named after the class that defines it. */
static PyTypeObject *defining_type_in(PyTypeObject *type, PyMethodDef *def)
{
    PyObject *mro = type->tp_mro;
    if (!mro || !PyTuple_Check(mro))
        return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        for (PyMethodDef *m = t->tp_methods; m && m->ml_name; m++)
            if (m == def)
                return t;
    }
    return NULL;
}

/* The defining class of a C method bound to `self`: a classmethod is bound
 * to a class (search from it), other methods to an instance or, for
 * methods of the metaclass, to a class as well. */
static PyTypeObject *defining_type(PyObject *self, PyMethodDef *def)
{
    PyTypeObject *t = NULL;
    if (PyType_Check(self))
        t = defining_type_in((PyTypeObject *)self, def);
    if (!t)
        t = defining_type_in(Py_TYPE(self), def);
    return t ? t : (PyType_Check(self) ? (PyTypeObject *)self : Py_TYPE(self));
}

/* "module.Type:method" for a C method of type t. */
static PyObject *method_name(PyTypeObject *t, const char *fn)
{
    PyObject *mod = PyObject_GetAttrString((PyObject *)t, "__module__");
    PyObject *qual = PyObject_GetAttrString((PyObject *)t, "__qualname__");
    PyObject *name = NULL;
    if (mod && qual && PyUnicode_Check(mod) && PyUnicode_Check(qual))
        name = PyUnicode_FromFormat("%U.%U:%s", mod, qual, fn);
    else if (qual && PyUnicode_Check(qual))
        name = PyUnicode_FromFormat("builtins.%U:%s", qual, fn);
    Py_XDECREF(mod);
    Py_XDECREF(qual);
    PyErr_Clear();
    return name ? name : PyUnicode_FromFormat("%s:%s", t->tp_name, fn);
}

static PyObject *cfunction_name(PyCFunctionObject *f)
{
    const char *fn = f->m_ml->ml_name;
    PyObject *self = f->m_self;
    if (self && !PyModule_Check(self))
        return method_name(defining_type(self, f->m_ml), fn);
    PyObject *module = f->m_module;
    if (module && PyUnicode_Check(module))
        return PyUnicode_FromFormat("%U:%s", module, fn);
    if (self && PyModule_Check(self)) {
        PyObject *modname = PyModule_GetNameObject(self);
        if (modname) {
            PyObject *name = PyUnicode_FromFormat("%U:%s", modname, fn);
            Py_DECREF(modname);
            return name;
        }
        PyErr_Clear();
    }
    return PyUnicode_FromFormat("builtins:%s", fn);
}

/* The region of a C function called `name` (its group: the part before
 * the colon), REGION_FILTERED if the filter excludes it; consumes name. */
static uint32_t c_region_named(PyObject *name)
{
    uint32_t region = REGION_SKIP;
    PyObject *holder;
    const char *s = regions_text(name, &holder);
    if (s) {
        const char *colon = strchr(s, ':');
        char group[256];
        snprintf(group, sizeof group, "%.*s", colon ? (int)(colon - s) : 0, s);
        region = scorep_region_filtered(s, "")
                     ? REGION_FILTERED
                     : scorep_region_define(s, group, "", 0, REGION_ROLE_FUNCTION, REGION_PARADIGM_COMPILER);
    }
    Py_XDECREF(holder);
    Py_XDECREF(name);
    PyErr_Clear();
    return region;
}

static bool is_own_cfunction(PyCFunctionObject *f)
{
    PyObject *module = f->m_module;
    if (module && PyUnicode_Check(module) && PyUnicode_Compare(module, own_module_name) == 0)
        return true;
    PyErr_Clear();
    return false;
}

static uint32_t name_cfunction(PyCFunctionObject *f)
{
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    uint32_t region = is_own_cfunction(f) ? REGION_SKIP : c_region_named(cfunction_name(f));
    ptrmap_put(&regions_c_functions, f->m_ml, region);
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return region;
}

/* A method descriptor (the callable of `list.append(x, 1)` or of a method
 * call as sys.monitoring reports it) is named after the type it belongs to. */
uint32_t regions_name_callable(PyObject *callable)
{
    if (PyCFunction_Check(callable))
        return name_cfunction((PyCFunctionObject *)callable);
    PyMethodDescrObject *descr = (PyMethodDescrObject *)callable;
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    uint32_t region = c_region_named(method_name(descr->d_common.d_type, descr->d_method->ml_name));
    ptrmap_put(&regions_c_functions, descr->d_method, region);
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return region;
}
