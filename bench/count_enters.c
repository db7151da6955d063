/*
 * count_enters: the number of ENTER events of the region(s) named REGION_NAME
 * in an OTF2 archive, read with the OTF2 reader library one location at a
 * time, so that memory and open files stay constant whatever the number of
 * locations (otf2-print and the otf2 Python reader open every location's
 * event file at once, with a 256 KiB buffer each).
 *
 *     count_enters ANCHOR REGION_NAME
 *
 * prints the count on stdout.  On error it prints one line on stderr naming
 * the OTF2 call that failed and exits with 1 (2 for bad usage).
 *
 * Build (bench/threads.py does this into a temporary directory):
 *
 *     cc -O2 $(otf2-config --cflags) -o count_enters bench/count_enters.c \
 *        $(otf2-config --ldflags) $(otf2-config --libs)
 *
 * Steps: open the reader (serial collectives), read the global definitions
 * (strings and regions, to find the ids of the regions whose name is
 * REGION_NAME; locations, to know every location id), then for each location:
 * select it, read its local definitions (which installs its mapping tables,
 * so that the event reader reports global region ids), read its events with
 * an Enter callback that counts the matching regions, close its readers.
 * A location without a local definitions file is accepted only when OTF2
 * reports the file as absent (OTF2_ERROR_ENOENT); one without an event file
 * only when its definition says it has no events.
 *
 * One reader handle per LOCATIONS_PER_READER locations: an OTF2 reader keeps
 * every location selected so far (an entry in a list, plus its mapping tables
 * and clock offsets) until OTF2_Reader_Close, and OTF2 3.0 looks a location
 * up in that list linearly, several times per location read.  With a single
 * reader, 10^5 locations took 46 s (two thirds of it in
 * otf2_archive_add_location and otf2_archive_find_location) and memory grew
 * with the locations; closing the reader and opening a fresh one (which reads
 * the global definitions again, ~20 ms for 10^5 locations, without callbacks)
 * every LOCATIONS_PER_READER locations keeps time linear and memory constant.
 *
 * Tested against Debian's libotf2 (OTF2 3.0).
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <otf2/otf2.h>

#define PROGRAM "count_enters"

/* Locations read through one reader handle before it is replaced (see above). */
#ifndef LOCATIONS_PER_READER
#define LOCATIONS_PER_READER 2048
#endif

/* ___ Errors _______________________________________________________________ */

/* The first error OTF2 reported since the last reset_error(): a failing call
 * reports a chain of errors (the cause first, then every caller's wrapper),
 * and the cause is what names the problem (e.g. ENOENT with the file's path).
 * Functions returning a handle report failure only as NULL; this is how to
 * tell why. */
static OTF2_ErrorCode first_error = OTF2_SUCCESS;
static char first_message[512];

static void
reset_error( void )
{
    first_error        = OTF2_SUCCESS;
    first_message[ 0 ] = '\0';
}

/* Replaces OTF2's default handler, which prints every error of the chain on
 * stderr, including the expected ENOENT of a missing local definitions file. */
static OTF2_ErrorCode
on_otf2_error( void*          userData,
               const char*    file,
               uint64_t       line,
               const char*    function,
               OTF2_ErrorCode errorCode,
               const char*    msgFormatString,
               va_list        va )
{
    ( void )userData;
    ( void )file;
    ( void )line;
    char message[ sizeof( first_message ) ] = "";
    if ( msgFormatString )
    {
        vsnprintf( message, sizeof( message ), msgFormatString, va );
    }
    for ( char* c = message; *c; c++ )
    {
        if ( *c == '\n' || *c == '\r' )
        {
            *c = ' ';
        }
    }
    if ( errorCode == OTF2_WARNING || errorCode == OTF2_DEPRECATED || errorCode == OTF2_ABORT )
    {
        /* Not an error code of a call; an abort does not come back. */
        fprintf( stderr, "%s: OTF2 %s in %s: %s\n", PROGRAM,
                 errorCode == OTF2_ABORT ? "abort" : errorCode == OTF2_WARNING ? "warning" : "deprecation",
                 function ? function : "?", message );
        return errorCode;
    }
    if ( first_error == OTF2_SUCCESS )
    {
        first_error = errorCode;
        snprintf( first_message, sizeof( first_message ), "%s%s%s",
                  function ? function : "", function && *message ? ": " : "", message );
    }
    return errorCode;
}

/* The location being read, for the error message; none before the loop. */
static int             in_location;
static OTF2_LocationRef current_location;

/* One line naming the call, the location, the error and OTF2's own first
 * message; exit 1. */
static void
fail( const char* call, OTF2_ErrorCode code )
{
    if ( code == OTF2_SUCCESS )  /* a handle call returned NULL without saying why */
    {
        code = first_error;
    }
    char where[ 64 ] = "";
    if ( in_location )
    {
        snprintf( where, sizeof( where ), " (location %" PRIu64 ")", ( uint64_t )current_location );
    }
    /* CHECK passes the whole call expression: name the function only. */
    int call_length = ( int )strcspn( call, " (" );
    if ( code == OTF2_SUCCESS )
    {
        fprintf( stderr, "%s: %.*s failed%s\n", PROGRAM, call_length, call, where );
    }
    else
    {
        /* OTF2 3.0 names its POSIX error codes by number ("2" for ENOENT):
         * the description says more. */
        const char* name = OTF2_Error_GetName( code );
        int         named = name && *name && !( *name >= '0' && *name <= '9' );
        fprintf( stderr, "%s: %.*s failed%s: %s%s%s%s%s%s\n", PROGRAM, call_length, call, where,
                 named ? name : "", named ? " (" : "", OTF2_Error_GetDescription( code ), named ? ")" : "",
                 *first_message ? ": " : "", first_message );
    }
    exit( 1 );
}

/* Checks a call returning an OTF2_ErrorCode. */
#define CHECK( call ) \
    do { \
        reset_error(); \
        OTF2_ErrorCode check_status_ = ( call ); \
        if ( check_status_ != OTF2_SUCCESS ) \
        { \
            fail( #call, check_status_ ); \
        } \
    } while ( 0 )

static void
die( const char* what )
{
    fprintf( stderr, "%s: %s\n", PROGRAM, what );
    exit( 1 );
}

/* ___ Growable arrays of ids _______________________________________________ */

typedef struct
{
    uint64_t* items;
    size_t    size;
    size_t    capacity;
} Ids;

/* false when out of memory */
static int
ids_push( Ids* ids, uint64_t value )
{
    if ( ids->size == ids->capacity )
    {
        size_t    capacity = ids->capacity ? 2 * ids->capacity : 64;
        uint64_t* items    = realloc( ids->items, capacity * sizeof( *items ) );
        if ( !items )
        {
            return 0;
        }
        ids->items    = items;
        ids->capacity = capacity;
    }
    ids->items[ ids->size++ ] = value;
    return 1;
}

static int
compare_ids( const void* a, const void* b )
{
    uint64_t x = *( const uint64_t* )a, y = *( const uint64_t* )b;
    return ( x > y ) - ( x < y );
}

static int
ids_contains( const Ids* ids, uint64_t value )  /* ids sorted */
{
    return bsearch( &value, ids->items, ids->size, sizeof( uint64_t ), compare_ids ) != NULL;
}

/* ___ Global definitions ___________________________________________________ */

typedef struct
{
    const char* region_name;
    Ids         name_strings;    /* string ids whose text is region_name */
    Ids         region_ids;      /* every region ... */
    Ids         region_names;    /* ... and its name's string id, same index */
    Ids         location_ids;    /* every location ... */
    Ids         location_events; /* ... and its number of events, same index */
    int         out_of_memory;
} GlobalDefs;

static OTF2_CallbackCode
on_string( void* userData, OTF2_StringRef self, const char* string )
{
    GlobalDefs* defs = userData;
    if ( string && strcmp( string, defs->region_name ) == 0 && !ids_push( &defs->name_strings, self ) )
    {
        defs->out_of_memory = 1;
        return OTF2_CALLBACK_ERROR;
    }
    return OTF2_CALLBACK_SUCCESS;
}

/* Strings are matched after all definitions are read: the order of string
 * and region definitions is not relied on. */
static OTF2_CallbackCode
on_region( void* userData, OTF2_RegionRef self, OTF2_StringRef name, OTF2_StringRef canonicalName,
           OTF2_StringRef description, OTF2_RegionRole regionRole, OTF2_Paradigm paradigm,
           OTF2_RegionFlag regionFlags, OTF2_StringRef sourceFile, uint32_t beginLineNumber,
           uint32_t endLineNumber )
{
    ( void )canonicalName;
    ( void )description;
    ( void )regionRole;
    ( void )paradigm;
    ( void )regionFlags;
    ( void )sourceFile;
    ( void )beginLineNumber;
    ( void )endLineNumber;
    GlobalDefs* defs = userData;
    if ( !ids_push( &defs->region_ids, self ) || !ids_push( &defs->region_names, name ) )
    {
        defs->out_of_memory = 1;
        return OTF2_CALLBACK_ERROR;
    }
    return OTF2_CALLBACK_SUCCESS;
}

static OTF2_CallbackCode
on_location( void* userData, OTF2_LocationRef self, OTF2_StringRef name, OTF2_LocationType locationType,
             uint64_t numberOfEvents, OTF2_LocationGroupRef locationGroup )
{
    ( void )name;
    ( void )locationType;
    ( void )locationGroup;
    GlobalDefs* defs = userData;
    if ( !ids_push( &defs->location_ids, self ) || !ids_push( &defs->location_events, numberOfEvents ) )
    {
        defs->out_of_memory = 1;
        return OTF2_CALLBACK_ERROR;
    }
    return OTF2_CALLBACK_SUCCESS;
}

/* Reads all global definitions, as OTF2 wants before local reading; with
 * defs, collects strings, regions and locations into it, else (a replacement
 * reader) only reads them. */
static void
read_global_definitions( OTF2_Reader* reader, GlobalDefs* defs )
{
    reset_error();
    OTF2_GlobalDefReader* def_reader = OTF2_Reader_GetGlobalDefReader( reader );
    if ( !def_reader )
    {
        fail( "OTF2_Reader_GetGlobalDefReader", OTF2_SUCCESS );
    }
    if ( !defs )
    {
        uint64_t definitions_read = 0;
        CHECK( OTF2_Reader_ReadAllGlobalDefinitions( reader, def_reader, &definitions_read ) );
        CHECK( OTF2_Reader_CloseGlobalDefReader( reader, def_reader ) );
        return;
    }
    OTF2_GlobalDefReaderCallbacks* callbacks = OTF2_GlobalDefReaderCallbacks_New();
    if ( !callbacks )
    {
        die( "OTF2_GlobalDefReaderCallbacks_New failed: out of memory" );
    }
    CHECK( OTF2_GlobalDefReaderCallbacks_SetStringCallback( callbacks, on_string ) );
    CHECK( OTF2_GlobalDefReaderCallbacks_SetRegionCallback( callbacks, on_region ) );
    CHECK( OTF2_GlobalDefReaderCallbacks_SetLocationCallback( callbacks, on_location ) );
    CHECK( OTF2_Reader_RegisterGlobalDefCallbacks( reader, def_reader, callbacks, defs ) );
    OTF2_GlobalDefReaderCallbacks_Delete( callbacks );

    uint64_t definitions_read = 0;
    reset_error();
    OTF2_ErrorCode status = OTF2_Reader_ReadAllGlobalDefinitions( reader, def_reader, &definitions_read );
    if ( defs->out_of_memory )
    {
        die( "OTF2_Reader_ReadAllGlobalDefinitions failed: out of memory storing the definitions" );
    }
    if ( status != OTF2_SUCCESS )
    {
        fail( "OTF2_Reader_ReadAllGlobalDefinitions", status );
    }
    CHECK( OTF2_Reader_CloseGlobalDefReader( reader, def_reader ) );
}

/* ___ Events _______________________________________________________________ */

typedef struct
{
    const Ids* regions;  /* sorted ids of the regions named region_name */
    uint64_t   count;
} Counter;

static OTF2_CallbackCode
on_enter( OTF2_LocationRef location, OTF2_TimeStamp time, uint64_t eventPosition, void* userData,
          OTF2_AttributeList* attributeList, OTF2_RegionRef region )
{
    ( void )location;
    ( void )time;
    ( void )eventPosition;
    ( void )attributeList;
    Counter* counter = userData;
    const Ids* regions = counter->regions;
    if ( regions->size == 1 ? regions->items[ 0 ] == region : ids_contains( regions, region ) )
    {
        counter->count++;
    }
    return OTF2_CALLBACK_SUCCESS;
}

/* Selects one location, applies its local definitions, counts its enters and
 * closes everything it opened. */
static void
count_location( OTF2_Reader* reader, OTF2_LocationRef location, uint64_t numberOfEvents,
                const OTF2_EvtReaderCallbacks* callbacks, Counter* counter )
{
    in_location      = 1;
    current_location = location;
    CHECK( OTF2_Reader_SelectLocation( reader, location ) );

    /* Local definitions: mapping tables (local to global ids) and clock
     * offsets, which OTF2 keeps for the event reader of this location.  Open
     * and close of the file containers are collective no-ops for the POSIX
     * substrate; they are here for the others. */
    CHECK( OTF2_Reader_OpenDefFiles( reader ) );
    reset_error();
    OTF2_DefReader* def_reader = OTF2_Reader_GetDefReader( reader, location );
    if ( def_reader )
    {
        uint64_t definitions_read = 0;
        CHECK( OTF2_Reader_ReadAllLocalDefinitions( reader, def_reader, &definitions_read ) );
        CHECK( OTF2_Reader_CloseDefReader( reader, def_reader ) );
    }
    else if ( first_error != OTF2_ERROR_ENOENT )  /* only an absent file is acceptable */
    {
        fail( "OTF2_Reader_GetDefReader", OTF2_SUCCESS );
    }
    CHECK( OTF2_Reader_CloseDefFiles( reader ) );

    CHECK( OTF2_Reader_OpenEvtFiles( reader ) );
    reset_error();
    OTF2_EvtReader* evt_reader = OTF2_Reader_GetEvtReader( reader, location );
    if ( evt_reader )
    {
        CHECK( OTF2_Reader_RegisterEvtCallbacks( reader, evt_reader, callbacks, counter ) );
        uint64_t events_read = 0;
        CHECK( OTF2_Reader_ReadAllLocalEvents( reader, evt_reader, &events_read ) );
        CHECK( OTF2_Reader_CloseEvtReader( reader, evt_reader ) );
    }
    else if ( !( first_error == OTF2_ERROR_ENOENT && numberOfEvents == 0 ) )
    {
        fail( "OTF2_Reader_GetEvtReader", OTF2_SUCCESS );
    }
    CHECK( OTF2_Reader_CloseEvtFiles( reader ) );
    in_location = 0;
}

/* ___ Main _________________________________________________________________ */

static OTF2_Reader*
open_reader( const char* anchor )
{
    reset_error();
    OTF2_Reader* reader = OTF2_Reader_Open( anchor );
    if ( !reader )
    {
        fail( "OTF2_Reader_Open", OTF2_SUCCESS );
    }
    CHECK( OTF2_Reader_SetSerialCollectiveCallbacks( reader ) );
    return reader;
}

int
main( int argc, char** argv )
{
    if ( argc != 3 || !*argv[ 2 ] )
    {
        fprintf( stderr, "usage: %s ANCHOR REGION_NAME  (prints the number of ENTER events of "
                 "the regions named REGION_NAME in the OTF2 archive ANCHOR, e.g. traces.otf2)\n", PROGRAM );
        return 2;
    }
    OTF2_Error_RegisterCallback( on_otf2_error, NULL );

    OTF2_Reader* reader = open_reader( argv[ 1 ] );
    uint64_t number_of_locations = 0;
    CHECK( OTF2_Reader_GetNumberOfLocations( reader, &number_of_locations ) );

    GlobalDefs defs;
    memset( &defs, 0, sizeof( defs ) );
    defs.region_name = argv[ 2 ];
    read_global_definitions( reader, &defs );
    if ( defs.location_ids.size != number_of_locations )
    {
        fprintf( stderr, "%s: the anchor file says %" PRIu64 " locations, the global definitions "
                 "define %zu\n", PROGRAM, number_of_locations, defs.location_ids.size );
        return 1;
    }

    /* The regions to count: those whose name is one of the matching strings. */
    Ids regions;
    memset( &regions, 0, sizeof( regions ) );
    qsort( defs.name_strings.items, defs.name_strings.size, sizeof( uint64_t ), compare_ids );
    for ( size_t i = 0; i < defs.region_ids.size; i++ )
    {
        if ( ids_contains( &defs.name_strings, defs.region_names.items[ i ] )
             && !ids_push( &regions, defs.region_ids.items[ i ] ) )
        {
            die( "out of memory" );
        }
    }
    qsort( regions.items, regions.size, sizeof( uint64_t ), compare_ids );
    free( defs.region_ids.items );
    free( defs.region_names.items );
    free( defs.name_strings.items );

    Counter counter = { &regions, 0 };
    if ( regions.size == 0 )
    {
        /* Not an error (nothing was recorded), but worth a word: a misspelt
         * name would count 0 as well. */
        fprintf( stderr, "%s: no region named \"%s\" in the global definitions\n", PROGRAM, argv[ 2 ] );
    }
    else
    {
        OTF2_EvtReaderCallbacks* callbacks = OTF2_EvtReaderCallbacks_New();
        if ( !callbacks )
        {
            die( "OTF2_EvtReaderCallbacks_New failed: out of memory" );
        }
        CHECK( OTF2_EvtReaderCallbacks_SetEnterCallback( callbacks, on_enter ) );
        for ( size_t i = 0; i < defs.location_ids.size; i++ )
        {
            if ( i > 0 && i % LOCATIONS_PER_READER == 0 )
            {
                CHECK( OTF2_Reader_Close( reader ) );
                reader = open_reader( argv[ 1 ] );
                read_global_definitions( reader, NULL );
            }
            count_location( reader, defs.location_ids.items[ i ], defs.location_events.items[ i ],
                            callbacks, &counter );
        }
        OTF2_EvtReaderCallbacks_Delete( callbacks );
    }
    CHECK( OTF2_Reader_Close( reader ) );

    printf( "%" PRIu64 "\n", counter.count );
    if ( fflush( stdout ) != 0 || ferror( stdout ) )
    {
        die( "cannot write the count to stdout" );
    }
    free( regions.items );
    free( defs.location_ids.items );
    free( defs.location_events.items );
    return 0;
}
