using Xunit;
using System.Buffers.Binary;
using System.Text;
using HeadWise.Formats.Gguf;

namespace HeadWise.Tests.Formats;

/// <summary>Small GGUF files written by the tests, and helpers that find and patch header fields in their bytes.</summary>
internal static class GgufTestFiles
{
    /// <summary>
    /// A valid file: metadata general.architecture and an int32 array "test.ints"; tensors "tensor.a" F32 [8]
    /// and "tensor.b" F32 [4, 2] (ggml order), values 0..7 and 100..107.
    /// </summary>
    public static byte[] Small(int alignment = 32, IEnumerable<KeyValuePair<string, object>>? extraMetadata = null, string nameB = "tensor.b")
    {
        var path = Path.Combine(TestPaths.NewTempDir("gguf"), "small.gguf");
        var meta = new List<KeyValuePair<string, object>>
        {
            new("general.architecture", "llama"),
            new("test.ints", new[] { 1, 2, 3 }),
        };
        if (extraMetadata != null) meta.AddRange(extraMetadata);
        GgufWriter.Write(path, meta,
        [
            new GgufTensorData("tensor.a", [8], GgmlType.F32, Enumerable.Range(0, 8).Select(i => (float)i).ToArray()),
            new GgufTensorData(nameB, [4, 2], GgmlType.F32, Enumerable.Range(100, 8).Select(i => (float)i).ToArray()),
        ], alignment);
        var bytes = File.ReadAllBytes(path);
        Directory.Delete(Path.GetDirectoryName(path)!, true);
        return bytes;
    }

    public static string Save(byte[] bytes)
    {
        var path = Path.Combine(TestPaths.NewTempDir("gguf"), "file.gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Index of a length-prefixed string (the uint64 length field) in the header.</summary>
    public static int FindString(byte[] bytes, string s)
    {
        var needle = new byte[8 + Encoding.UTF8.GetByteCount(s)];
        BinaryPrimitives.WriteUInt64LittleEndian(needle, (ulong)(needle.Length - 8));
        Encoding.UTF8.GetBytes(s, needle.AsSpan(8));
        var at = bytes.AsSpan().IndexOf(needle);
        if (at < 0) throw new InvalidOperationException($"'{s}' not found");
        return at;
    }

    /// <summary>Field positions of a tensor's entry in the tensor table.</summary>
    public sealed record TensorEntry(int NDims, int Dims, int Type, int Offset);

    public static TensorEntry FindTensor(byte[] bytes, string name)
    {
        var nDims = FindString(bytes, name) + 8 + Encoding.UTF8.GetByteCount(name);
        var n = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(nDims));
        var dims = nDims + 4;
        return new TensorEntry(nDims, dims, dims + 8 * n, dims + 8 * n + 4);
    }

    public static void PutU32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    public static void PutU64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);
    public static ulong GetU64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    /// <summary>Asserts that opening the bytes fails with a file error whose message contains every fragment.</summary>
    public static InvalidModelFileException AssertRejected(byte[] bytes, params string[] fragments)
    {
        var path = Save(bytes);
        try
        {
            var ex = Assert.Throws<InvalidModelFileException>(() => GgufFile.Open(path).Dispose());
            Assert.Equal(path, ex.Path);
            foreach (var f in fragments) Assert.Contains(f, ex.Message, StringComparison.OrdinalIgnoreCase);
            return ex;
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, true);
        }
    }
}
