using System.Text;

namespace HeadWise.Tests.Tokenizers;

/// <summary>
/// TEST-ONLY: reads the key/value metadata of a GGUF file (header, then typed values) into the dictionary shape
/// TokenizerFactory.FromGgufMetadata takes. The library's own GGUF reader lives elsewhere; this one only lets the
/// tokenizer tests see the real stories260K vocabulary.
/// </summary>
internal static class TestGgufVocab
{
    public static Dictionary<string, object> ReadMetadata(string path)
    {
        using var r = new BinaryReader(File.OpenRead(path), Encoding.UTF8);
        if (r.ReadUInt32() != 0x46554747) throw new InvalidDataException("not GGUF");
        uint version = r.ReadUInt32();
        if (version < 2) throw new InvalidDataException($"GGUF v{version} not handled here");
        r.ReadUInt64();                       // tensor count
        ulong kvCount = r.ReadUInt64();
        var meta = new Dictionary<string, object>();
        for (ulong i = 0; i < kvCount; i++)
        {
            var key = ReadString(r);
            meta[key] = ReadValue(r, r.ReadUInt32());
        }
        return meta;
    }

    private static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));

    private static object ReadValue(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(), 1 => r.ReadSByte(), 2 => r.ReadUInt16(), 3 => r.ReadInt16(),
        4 => r.ReadUInt32(), 5 => r.ReadInt32(), 6 => r.ReadSingle(), 7 => r.ReadByte() != 0,
        8 => ReadString(r), 10 => r.ReadUInt64(), 11 => r.ReadInt64(), 12 => r.ReadDouble(),
        9 => ReadArray(r),
        _ => throw new InvalidDataException($"GGUF value type {type}"),
    };

    private static object ReadArray(BinaryReader r)
    {
        uint type = r.ReadUInt32();
        int n = checked((int)r.ReadUInt64());
        return type switch
        {
            8 => Fill(n, () => ReadString(r)),
            6 => Fill(n, r.ReadSingle),
            5 => Fill(n, r.ReadInt32),
            4 => Fill(n, r.ReadUInt32),
            _ => Fill(n, () => ReadValue(r, type)),
        };
    }

    private static T[] Fill<T>(int n, Func<T> read)
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = read();
        return a;
    }
}
