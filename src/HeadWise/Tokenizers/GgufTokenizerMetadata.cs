namespace HeadWise.Tokenizers;

/// <summary>Typed reads of GGUF metadata values; a value of the wrong kind is an error naming its key.</summary>
internal sealed class GgufTokenizerMetadata(IReadOnlyDictionary<string, object> metadata, string source)
{
    public string? String(string key) => Get(key) switch
    {
        null => null,
        string s => s,
        var v => throw WrongType(key, v, "a string"),
    };

    public int? Int(string key)
    {
        var v = Get(key);
        if (v is null) return null;
        if (v is not (byte or sbyte or short or ushort or int or uint or long or ulong)) throw WrongType(key, v, "an integer");
        var x = Convert.ToInt64(v);
        if (x < int.MinValue || x > int.MaxValue) throw new InvalidModelFileException(source, $"{key} = {x} is out of range");
        return (int)x;
    }

    public bool? Bool(string key) => Get(key) switch
    {
        null => null,
        bool b => b,
        var v => throw WrongType(key, v, "a bool"),
    };

    public string[]? Strings(string key) => Get(key) switch
    {
        null => null,
        string[] a => a,
        IEnumerable<object> e when e.All(x => x is string) => e.Cast<string>().ToArray(),
        var v => throw WrongType(key, v, "an array of strings"),
    };

    public float[]? Floats(string key) => Get(key) switch
    {
        null => null,
        float[] a => a,
        double[] a => a.Select(x => (float)x).ToArray(),
        var v => throw WrongType(key, v, "an array of floats"),
    };

    public int[]? Ints(string key) => Get(key) switch
    {
        null => null,
        int[] a => a,
        uint[] a => a.Select(x => checked((int)x)).ToArray(),
        long[] a => a.Select(x => checked((int)x)).ToArray(),
        short[] a => a.Select(x => (int)x).ToArray(),
        byte[] a => a.Select(x => (int)x).ToArray(),
        sbyte[] a => a.Select(x => (int)x).ToArray(),
        var v => throw WrongType(key, v, "an array of integers"),
    };

    private object? Get(string key) => metadata.TryGetValue(key, out var v) ? v : null;

    private InvalidModelFileException WrongType(string key, object value, string expected) =>
        new(source, $"{key} should be {expected} but is {value.GetType().Name}");
}
