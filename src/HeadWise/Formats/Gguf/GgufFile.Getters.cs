namespace HeadWise.Formats.Gguf;

// Typed access to the metadata. Missing keys and wrong types are file errors that name the key.
internal sealed partial class GgufFile
{
    public bool ContainsKey(string key) => Metadata.ContainsKey(key);

    /// <summary>The value when it is exactly a <typeparamref name="T"/> (e.g. string, uint, float[]).</summary>
    public bool TryGet<T>(string key, out T value)
    {
        if (Metadata.TryGetValue(key, out var v) && v is T t)
        {
            value = t;
            return true;
        }
        value = default!;
        return false;
    }

    public bool TryGetString(string key, out string value) => TryGet(key, out value);

    /// <summary>Any integer type, widened to long (a uint64 above long.MaxValue is an error).</summary>
    public bool TryGetInteger(string key, out long value)
    {
        value = 0;
        if (!Metadata.TryGetValue(key, out var v)) return false;
        if (!TryInteger(v, out value))
            throw Error(key, v, v is ulong ? "an integer that fits in int64" : "an integer");
        return true;
    }

    /// <summary>Any integer or floating type, as double.</summary>
    public bool TryGetNumber(string key, out double value)
    {
        value = 0;
        if (!Metadata.TryGetValue(key, out var v)) return false;
        if (!TryNumber(v, out value)) throw Error(key, v, "a number");
        return true;
    }

    public string GetString(string key) => Require(key) is string s ? s : throw Error(key, Metadata[key], "a string");

    public long GetInteger(string key) => TryGetInteger(key, out var v) ? v : throw Missing(key);

    public double GetNumber(string key) => TryGetNumber(key, out var v) ? v : throw Missing(key);

    public bool GetBool(string key) => Require(key) is bool b ? b : throw Error(key, Metadata[key], "a bool");

    /// <summary>
    /// An array of exactly T[]; for T = int, long, float or double an array of another numeric type is converted
    /// when that is lossless for integers (ints from any integer array in range, floats from any numeric array).
    /// </summary>
    public T[] GetArray<T>(string key)
    {
        var v = Require(key);
        if (v is T[] exact) return exact;
        if (v is Array a && a.GetType().GetElementType() is { IsPrimitive: true } && a is not bool[])
        {
            var r = new T[a.Length];
            for (var i = 0; i < a.Length; i++)
            {
                var e = a.GetValue(i)!;
                object? converted = typeof(T) == typeof(long) ? (TryInteger(e, out var l) ? l : null)
                    : typeof(T) == typeof(int) ? (TryInteger(e, out var l2) && l2 is >= int.MinValue and <= int.MaxValue ? (int)l2 : null)
                    : typeof(T) == typeof(double) ? (TryNumber(e, out var d) ? d : null)
                    : typeof(T) == typeof(float) ? (TryNumber(e, out var d2) ? (float)d2 : null)
                    : null;
                if (converted is null) throw Error(key, v, $"an array of {typeof(T).Name}");
                r[i] = (T)converted;
            }
            return r;
        }
        throw Error(key, v, $"an array of {typeof(T).Name}");
    }

    private object Require(string key) => Metadata.TryGetValue(key, out var v) ? v : throw Missing(key);

    private InvalidModelFileException Missing(string key) => new(Path, $"metadata key {ErrorText.Quote(key)} is missing");

    private InvalidModelFileException Error(string key, object value, string expected) =>
        new(Path, $"metadata key {ErrorText.Quote(key)} has type {Describe(value)}, expected {expected}");

    private static string Describe(object v) => v is Array a ? $"{a.GetType().GetElementType()!.Name}[{a.Length}]"
        : $"{v.GetType().Name} ({(v is string s ? ErrorText.Quote(s) : v)})";

    private static bool TryInteger(object v, out long value)
    {
        switch (v)
        {
            case byte b: value = b; return true;
            case sbyte sb: value = sb; return true;
            case ushort us: value = us; return true;
            case short s: value = s; return true;
            case uint ui: value = ui; return true;
            case int i: value = i; return true;
            case long l: value = l; return true;
            case ulong ul when ul <= long.MaxValue: value = (long)ul; return true;
            default: value = 0; return false;
        }
    }

    private static bool TryNumber(object v, out double value)
    {
        switch (v)
        {
            case float f: value = f; return true;
            case double d: value = d; return true;
            case ulong ul: value = ul; return true;
            default:
                var ok = TryInteger(v, out var l);
                value = l;
                return ok;
        }
    }
}
