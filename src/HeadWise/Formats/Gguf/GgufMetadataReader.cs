using System.Buffers.Binary;
using System.Text;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// Bounds-checked little-endian cursor over the mapped header. Every read checks the remaining length first,
/// and every count is checked against the bytes left before anything is allocated, so a corrupt file
/// produces an <see cref="InvalidModelFileException"/> instead of a native crash, a hang or an OutOfMemory.
/// </summary>
internal sealed unsafe class GgufMetadataReader
{
    private const int MaxNesting = 16;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly byte* _base;
    private readonly long _length;
    private readonly string _path;

    public GgufMetadataReader(byte* data, long length, string path)
    {
        _base = data;
        _length = length;
        _path = path;
    }

    public long Position { get; set; }
    public long Remaining => _length - Position;

    public InvalidModelFileException Error(string problem) => new(_path, problem);

    private byte* Take(long count, string what)
    {
        if (count < 0 || count > Remaining)
            throw Error($"truncated file: {what} at byte {Position} needs {count} bytes but only {Remaining} remain (past the end of the file)");
        var p = _base + Position;
        Position += count;
        return p;
    }

    public byte ReadByte(string what) => *Take(1, what);
    public ushort ReadUInt16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(Take(2, what), 2));
    public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(Take(4, what), 4));
    public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(Take(8, what), 8));

    /// <summary>A count stored as uint64, checked so that count * minBytesEach fits in what is left of the file.</summary>
    public long ReadCount(string what, int minBytesEach)
    {
        var n = ReadUInt64(what);
        if (n > (ulong)Remaining / (ulong)Math.Max(1, minBytesEach))
            throw Error($"absurd {what} {n}: it needs at least {minBytesEach} bytes each, more than the {Remaining} bytes left before the end of the file");
        return (long)n;
    }

    public string ReadString(string what)
    {
        var len = ReadUInt64(what + " length");
        if (len > (ulong)Remaining)
            throw Error($"truncated file: {what} at byte {Position} claims {len} bytes, past the end of the file ({Remaining} bytes left)");
        if (len > int.MaxValue) throw Error($"{what} length {len} is absurd");
        var p = Take((long)len, what);
        try
        {
            return StrictUtf8.GetString(p, (int)len);
        }
        catch (DecoderFallbackException)
        {
            throw Error($"{what} at byte {Position - (long)len} is not valid UTF-8");
        }
    }

    public object ReadValue(GgufValueType type, string key, int depth = 0) => type switch
    {
        GgufValueType.UInt8 => ReadByte(key),
        GgufValueType.Int8 => (sbyte)ReadByte(key),
        GgufValueType.UInt16 => ReadUInt16(key),
        GgufValueType.Int16 => (short)ReadUInt16(key),
        GgufValueType.UInt32 => ReadUInt32(key),
        GgufValueType.Int32 => (int)ReadUInt32(key),
        GgufValueType.Float32 => BitConverter.UInt32BitsToSingle(ReadUInt32(key)),
        GgufValueType.Bool => ReadBool(key),
        GgufValueType.String => ReadString($"string value of {key}"),
        GgufValueType.UInt64 => ReadUInt64(key),
        GgufValueType.Int64 => (long)ReadUInt64(key),
        GgufValueType.Float64 => BitConverter.UInt64BitsToDouble(ReadUInt64(key)),
        GgufValueType.Array => ReadArray(key, depth),
        _ => throw Error($"metadata key {ErrorText.Quote(key)} has unknown value type {(uint)type}"),
    };

    private bool ReadBool(string key)
    {
        var b = ReadByte(key);
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw Error($"metadata key {ErrorText.Quote(key)}: bool value {b} is neither 0 nor 1"),
        };
    }

    /// <summary>Minimum bytes one element of this type can occupy; used to reject absurd array counts early.</summary>
    private static int MinSize(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        GgufValueType.String => 8,
        GgufValueType.Array => 12,
        _ => 1,
    };

    private object ReadArray(string key, int depth)
    {
        if (depth >= MaxNesting) throw Error($"metadata key {ErrorText.Quote(key)}: arrays nested deeper than {MaxNesting}");
        var elemId = ReadUInt32($"array element type of {key}");
        var elem = (GgufValueType)elemId;
        if (elemId > (uint)GgufValueType.Float64) throw Error($"metadata key {ErrorText.Quote(key)} has unknown array element type {elemId}");
        var n = (int)Math.Min(int.MaxValue, ReadCount($"array length of {key}", MinSize(elem)));
        switch (elem)
        {
            case GgufValueType.UInt8: return Blit<byte>(n, key);
            case GgufValueType.Int8: return Blit<sbyte>(n, key);
            case GgufValueType.UInt16: return Blit<ushort>(n, key);
            case GgufValueType.Int16: return Blit<short>(n, key);
            case GgufValueType.UInt32: return Blit<uint>(n, key);
            case GgufValueType.Int32: return Blit<int>(n, key);
            case GgufValueType.Float32: return Blit<float>(n, key);
            case GgufValueType.UInt64: return Blit<ulong>(n, key);
            case GgufValueType.Int64: return Blit<long>(n, key);
            case GgufValueType.Float64: return Blit<double>(n, key);
            case GgufValueType.Bool:
            {
                var a = new bool[n];
                for (var i = 0; i < n; i++) a[i] = ReadBool(key);
                return a;
            }
            case GgufValueType.String:
            {
                var a = new string[n];
                for (var i = 0; i < n; i++) a[i] = ReadString($"element {i} of {key}");
                return a;
            }
            default:
            {
                var a = new object[n];
                for (var i = 0; i < n; i++) a[i] = ReadValue(GgufValueType.Array, key, depth + 1);
                return a;
            }
        }
    }

    // Fixed-size elements: one bounds check, then a straight copy (the host is little-endian, checked at Open).
    private T[] Blit<T>(int n, string key) where T : unmanaged
    {
        var bytes = (long)n * sizeof(T);
        var src = Take(bytes, $"array {key}");
        var a = new T[n];
        new ReadOnlySpan<T>(src, n).CopyTo(a);
        return a;
    }
}
