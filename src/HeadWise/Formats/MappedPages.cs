namespace HeadWise.Formats;

/// <summary>
/// Drops a mapped file range from the process's resident set once its bytes were copied out, so a model loaded through a
/// memory map is not resident twice (mapped pages count in RSS until unmapped). The pages stay valid: touching them again
/// reads the file anew.
/// </summary>
internal static unsafe class MappedPages
{
    public static void Release(byte* start, long length) =>
        Runtime.PageAdvice.Inside(start, length, Environment.SystemPageSize, Runtime.PageAdvice.DontNeed);
}
