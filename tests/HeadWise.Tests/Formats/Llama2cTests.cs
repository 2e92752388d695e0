using Xunit;
using System.Buffers.Binary;
using System.Text;
using HeadWise.Formats.Llama2c;

namespace HeadWise.Tests.Formats;

public class Llama2cTests
{
    private static readonly Llama2cHeader Tiny = new(Dim: 16, HiddenDim: 12, Layers: 2, Heads: 4, KvHeads: 2, VocabSize: 10, SeqLen: 6, SharedClassifier: false);

    /// <summary>Deterministic, distinct values per tensor: name hash + index.</summary>
    private static float[] Values(string name, long count)
    {
        var seed = name.Aggregate(17, (h, c) => h * 31 + c);
        return Enumerable.Range(0, (int)count).Select(i => (float)(seed % 1000) + i * 0.001f).ToArray();
    }

    private static string WriteTiny(Llama2cHeader h)
    {
        var path = Path.Combine(TestPaths.NewTempDir("l2c"), "tiny.bin");
        var shapes = ExpectedShapes(h).ToDictionary(x => x.Name, x => x.Shape);
        Llama2cCheckpoint.Write(path, h, name => Values(name, shapes[name].Aggregate(1L, (a, d) => a * d)));
        return path;
    }

    private static IEnumerable<(string Name, long[] Shape)> ExpectedShapes(Llama2cHeader h)
    {
        yield return ("token_embd.weight", [h.VocabSize, h.Dim]);
        for (var l = 0; l < h.Layers; l++)
        {
            yield return ($"blk.{l}.attn_norm.weight", [h.Dim]);
            yield return ($"blk.{l}.attn_q.weight", [h.Dim, h.Dim]);
            yield return ($"blk.{l}.attn_k.weight", [h.KvDim, h.Dim]);
            yield return ($"blk.{l}.attn_v.weight", [h.KvDim, h.Dim]);
            yield return ($"blk.{l}.attn_output.weight", [h.Dim, h.Dim]);
            yield return ($"blk.{l}.ffn_norm.weight", [h.Dim]);
            yield return ($"blk.{l}.ffn_gate.weight", [h.HiddenDim, h.Dim]);
            yield return ($"blk.{l}.ffn_down.weight", [h.Dim, h.HiddenDim]);
            yield return ($"blk.{l}.ffn_up.weight", [h.HiddenDim, h.Dim]);
        }
        yield return ("output_norm.weight", [h.Dim]);
        if (!h.SharedClassifier) yield return ("output.weight", [h.VocabSize, h.Dim]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteThenReadRoundTrips(bool shared)
    {
        var h = Tiny with { SharedClassifier = shared };
        var path = WriteTiny(h);
        // File size from llama2.c's own arithmetic, independent of the reader's layout code.
        long d = h.Dim, hd = h.HiddenDim, L = h.Layers, kv = h.KvDim, V = h.VocabSize;
        var floats = V * d + L * d * 2 + L * d * d * 2 + L * d * kv * 2 + L * d * hd * 3 + d + h.SeqLen * (d / h.Heads);
        if (!shared) floats += V * d;
        Assert.Equal(28 + floats * 4, new FileInfo(path).Length);
        Assert.Equal(shared ? 10 : -10, BinaryPrimitives.ReadInt32LittleEndian(File.ReadAllBytes(path).AsSpan(20)));

        using var c = Llama2cCheckpoint.Open(path);
        Assert.Equal(h, c.Header);
        var expected = ExpectedShapes(h).ToList();
        Assert.Equal(expected.Select(e => e.Name).Order(), c.Tensors.Select(t => t.Name).Order());
        foreach (var (name, shape) in expected)
        {
            Assert.Equal(shape, c.GetShape(name));
            Assert.Equal(Values(name, shape.Aggregate(1L, (a, x) => a * x)), c.ReadFloats(name));
        }
        Assert.Throws<ArgumentException>(() => c.ReadFloats("output_norm.weight", new float[3]));
        Assert.Throws<InvalidModelFileException>(() => c.ReadFloats("freq_cis_real"));
    }

    [Fact]
    public void WrittenRopeTableMatchesLlama2c()
    {
        var path = WriteTiny(Tiny);
        var bytes = File.ReadAllBytes(path);
        // freq_cis_real starts right after output_norm; locate it by the layout llama2.c uses.
        long d = Tiny.Dim, L = Tiny.Layers, kv = Tiny.KvDim, hd = Tiny.HiddenDim;
        var at = 28 + 4 * (Tiny.VocabSize * d + L * d * 2 + L * d * d * 2 + L * d * kv * 2 + L * d * hd * 3 + d);
        var half = Tiny.HeadSize / 2;
        float Real(int pos, int i) => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)at + 4 * (pos * half + i)));
        Assert.Equal(1f, Real(0, 0));
        Assert.Equal((float)Math.Cos(3 * Math.Pow(10000, -2.0 / Tiny.HeadSize)), Real(3, 1), 6);
    }

    private static byte[] TinyBytes() => File.ReadAllBytes(WriteTiny(Tiny));

    private static void AssertRejected(byte[] bytes, params string[] fragments)
    {
        var path = Path.Combine(TestPaths.NewTempDir("l2c"), "bad.bin");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidModelFileException>(() => Llama2cCheckpoint.Open(path).Dispose());
        Assert.Equal(path, ex.Path);
        foreach (var f in fragments) Assert.Contains(f, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    private static byte[] WithField(int field, int value)
    {
        var b = TinyBytes();
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(field * 4), value);
        return b;
    }

    [Fact] public void Truncated() => AssertRejected(TinyBytes()[..^4], "truncated");
    [Fact] public void TrailingBytes() => AssertRejected([.. TinyBytes(), 0], "trailing");
    [Fact] public void ShortHeader() => AssertRejected(TinyBytes()[..20], "truncated");
    [Fact] public void NegativeDim() => AssertRejected(WithField(0, -8), "non-positive");
    [Fact] public void ZeroLayers() => AssertRejected(WithField(2, 0), "non-positive");
    [Fact] public void HeadsDoNotDivideDim() => AssertRejected(WithField(3, 3), "does not divide dim");
    [Fact] public void KvHeadsDoNotDivideHeads() => AssertRejected(WithField(4, 3), "does not divide n_heads");
    [Fact] public void AbsurdSizeOverflows() => AssertRejected(WithField(1, int.MaxValue), "implies");
    [Fact] public void FlippedClassifierSignChangesExpectedSize() => AssertRejected(WithField(5, 10), "trailing");

    [Fact]
    public void VersionedExportRefused()
    {
        var b = TinyBytes();
        BinaryPrimitives.WriteUInt32LittleEndian(b, 0x616b3432);
        AssertRejected(b, "ak42");
    }

    // tokenizer.bin

    private static byte[] Vocab(int max, params (float Score, int Len, string Text)[] tokens)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(max);
        foreach (var (s, l, t) in tokens)
        {
            w.Write(s);
            w.Write(l);
            w.Write(Encoding.UTF8.GetBytes(t));
        }
        return ms.ToArray();
    }

    private static string SaveVocab(byte[] b)
    {
        var path = Path.Combine(TestPaths.NewTempDir("l2c"), "tokenizer.bin");
        File.WriteAllBytes(path, b);
        return path;
    }

    private static void AssertVocabRejected(byte[] b, string fragment)
    {
        var ex = Assert.Throws<InvalidModelFileException>(() => Llama2cVocabulary.Read(SaveVocab(b)));
        Assert.Contains(fragment, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void VocabularyReads()
    {
        var v = Llama2cVocabulary.Read(SaveVocab(Vocab(3, (0f, 3, "abc"), (-1.5f, 0, ""), (2f, 2, "é"))));
        Assert.Equal(["abc", "", "é"], v.Pieces);
        Assert.Equal([0f, -1.5f, 2f], v.Scores);
        Assert.Equal(3, v.MaxTokenLength);
        Assert.Equal(new byte[] { 0xC3, 0xA9 }, v.RawPieces[2]);
    }

    [Fact] public void VocabNegativeLength() => AssertVocabRejected(Vocab(3, (0f, 1, "a"), (0f, -2, "")), "negative length");
    [Fact] public void VocabLengthPastEnd() => AssertVocabRejected(Vocab(100, (0f, 50, "ab")), "truncated");
    [Fact] public void VocabLengthOverMax() => AssertVocabRejected(Vocab(2, (0f, 3, "abc")), "exceeds max_token_length");
    [Fact] public void VocabAbsurdMax() => AssertVocabRejected(Vocab(-1, (0f, 1, "a")), "max_token_length");
    [Fact] public void VocabTruncatedRecord() => AssertVocabRejected(Vocab(3, (0f, 1, "a"))[..^3], "truncated");
    [Fact] public void VocabEmpty() => AssertVocabRejected(Vocab(3), "no tokens");
    [Fact] public void VocabTooShort() => AssertVocabRejected([1, 0], "truncated");
}
