using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace HeadWise.Formats.Llama2c;

/// <summary>
/// A llama2.c checkpoint (the legacy "version 0" export: 7 int32 header fields, then float32 weights), memory-mapped.
/// Tensors are exposed under GGUF names with torch-order shapes ([out, in] for projections); llama2.c already
/// stores each projection as a row-major [out, in] matrix, so no data is reordered, and its RoPE is the interleaved
/// (GGUF llama) form. The precomputed freq_cis tables are skipped.
/// </summary>
internal sealed unsafe class Llama2cCheckpoint : IDisposable
{
    /// <summary>"ak42": the versioned llama2.c exports (v1/v2), which this reader does not handle.</summary>
    private const uint VersionedMagic = 0x616b3432;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;
    private readonly Dictionary<string, Entry> _byName;

    private sealed record Entry(string Name, long[] Shape, long FloatOffset, bool Exposed)
    {
        public long Count => Shape.Aggregate(1L, (a, d) => a * d);
    }

    public string Path { get; }
    public Llama2cHeader Header { get; }
    /// <summary>Tensors in file order, GGUF names, torch-order shapes.</summary>
    public IReadOnlyList<(string Name, long[] Shape)> Tensors { get; }

    private Llama2cCheckpoint(string path, Llama2cHeader header, List<Entry> layout, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr)
    {
        Path = path;
        Header = header;
        _map = map;
        _view = view;
        _base = basePtr;
        _byName = layout.Where(e => e.Exposed).ToDictionary(e => e.Name, StringComparer.Ordinal);
        Tensors = layout.Where(e => e.Exposed).Select(e => (e.Name, e.Shape)).ToList();
    }

    public static Llama2cCheckpoint Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileStream? fs = BoundedFile.OpenRead(path, "llama2.c checkpoint");
        try
        {
            var length = fs.Length;
            Span<byte> raw = stackalloc byte[Llama2cHeader.Bytes];
            if (length < Llama2cHeader.Bytes || fs.Read(raw) != raw.Length)
                throw new InvalidModelFileException(path, $"truncated file: {length} bytes is too short for the 28-byte llama2.c header");
            if (BinaryPrimitives.ReadUInt32LittleEndian(raw) == VersionedMagic)
                throw new InvalidModelFileException(path, "versioned llama2.c export (magic \"ak42\") is not supported; export with the legacy (version 0) format");
            var header = ParseHeader(raw);
            if (header.Problem() is { } problem) throw new InvalidModelFileException(path, problem);
            // The size the header implies is checked against the file before anything is sized by the header.
            var expected = (Int128)Llama2cHeader.Bytes + header.FloatCount() * 4;
            if (length != expected)
                throw new InvalidModelFileException(path, length < expected
                    ? $"truncated file: {length} bytes, but the header ({header}) implies {expected} bytes"
                    : $"file is {length} bytes, but the header ({header}) implies {expected} bytes: {length - expected} unexpected trailing bytes");
            var (layout, _) = Layout(header);

            var map = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            fs = null;
            MemoryMappedViewAccessor? view = null;
            try
            {
                view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
                byte* p = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
                return new Llama2cCheckpoint(path, header, layout, map, view, p + view.PointerOffset);
            }
            catch
            {
                view?.Dispose();
                map.Dispose();
                throw;
            }
        }
        finally
        {
            fs?.Dispose();
        }
    }

    private static Llama2cHeader ParseHeader(ReadOnlySpan<byte> raw)
    {
        var f = new int[7];
        for (var i = 0; i < f.Length; i++) f[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(i * 4)..]);
        var vocab = f[5];
        return new Llama2cHeader(f[0], f[1], f[2], f[3], f[4], vocab == int.MinValue ? 0 : Math.Abs(vocab), f[6], SharedClassifier: vocab > 0);
    }

    /// <summary>Every array in file order (freq_cis included, not exposed) and the total float count.</summary>
    private static (List<Entry> Layout, long Floats) Layout(Llama2cHeader h)
    {
        checked
        {
            var list = new List<Entry>();
            long at = 0;
            void Add(string name, bool exposed, params long[] shape)
            {
                var e = new Entry(name, shape, at, exposed);
                list.Add(e);
                at += e.Count;
            }
            void PerLayer(string suffix, params long[] shape)
            {
                for (var l = 0; l < h.Layers; l++) Add($"blk.{l}.{suffix}", true, shape);
            }
            long dim = h.Dim, hidden = h.HiddenDim, q = h.QDim, kv = h.KvDim, vocab = h.VocabSize;
            Add("token_embd.weight", true, vocab, dim);
            PerLayer("attn_norm.weight", dim);
            PerLayer("attn_q.weight", q, dim);
            PerLayer("attn_k.weight", kv, dim);
            PerLayer("attn_v.weight", kv, dim);
            PerLayer("attn_output.weight", dim, q);
            PerLayer("ffn_norm.weight", dim);
            PerLayer("ffn_gate.weight", hidden, dim); // w1
            PerLayer("ffn_down.weight", dim, hidden); // w2
            PerLayer("ffn_up.weight", hidden, dim);   // w3
            Add("output_norm.weight", true, dim);
            Add(FreqReal, false, h.SeqLen, h.HeadSize / 2);
            Add(FreqImag, false, h.SeqLen, h.HeadSize / 2);
            if (!h.SharedClassifier) Add("output.weight", true, vocab, dim);
            _ = at * 4 + Llama2cHeader.Bytes; // the byte size must not overflow either
            return (list, at);
        }
    }

    private const string FreqReal = "freq_cis_real";
    private const string FreqImag = "freq_cis_imag";

    public bool Contains(string name) => _byName.ContainsKey(name);

    public long[] GetShape(string name) => (long[])Find(name).Shape.Clone();

    public void ReadFloats(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        var e = Find(name);
        if (destination.Length != e.Count)
            throw new ArgumentException($"destination has {destination.Length} elements but tensor {ErrorText.Quote(name)} has {e.Count}", nameof(destination));
        new ReadOnlySpan<float>(_base + Llama2cHeader.Bytes + e.FloatOffset * 4, destination.Length).CopyTo(destination);
    }

    public float[] ReadFloats(string name)
    {
        var a = new float[Find(name).Count];
        ReadFloats(name, a);
        return a;
    }

    private Entry Find(string name) =>
        _byName.TryGetValue(name, out var e) ? e : throw new InvalidModelFileException(Path, $"no tensor named {ErrorText.Quote(name)}");

    /// <summary>
    /// Writes a legacy llama2.c checkpoint. <paramref name="tensor"/> is asked for every exposed GGUF-named tensor
    /// (torch order, row-major) and must return exactly its element count; the RoPE tables are computed (theta 10000).
    /// </summary>
    public static void Write(string path, Llama2cHeader header, Func<string, float[]> tensor)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(tensor);
        if (header.Problem() is { } problem) throw new ArgumentException(problem, nameof(header));
        var (layout, _) = Layout(header);
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> raw = stackalloc byte[Llama2cHeader.Bytes];
        int[] fields = [header.Dim, header.HiddenDim, header.Layers, header.Heads, header.KvHeads,
            header.SharedClassifier ? header.VocabSize : -header.VocabSize, header.SeqLen];
        for (var i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(raw[(i * 4)..], fields[i]);
        fs.Write(raw);
        foreach (var e in layout)
        {
            var data = e.Name switch
            {
                FreqReal => RopeTable(header, Math.Cos),
                FreqImag => RopeTable(header, Math.Sin),
                _ => tensor(e.Name) ?? throw new ArgumentException($"no data for tensor {ErrorText.Quote(e.Name)}"),
            };
            if (data.Length != e.Count)
                throw new ArgumentException($"tensor {ErrorText.Quote(e.Name)} needs {e.Count} floats, got {data.Length}");
            fs.Write(MemoryMarshal.AsBytes(data.AsSpan()));
        }
    }

    // llama2.c's precompute_freqs_cis: angle = pos * theta^(-2i/head_size).
    private static float[] RopeTable(Llama2cHeader h, Func<double, double> f)
    {
        var half = h.HeadSize / 2;
        var t = new float[(long)h.SeqLen * half];
        for (var pos = 0; pos < h.SeqLen; pos++)
            for (var i = 0; i < half; i++)
                t[pos * half + i] = (float)f(pos * Math.Pow(10000.0, -2.0 * i / h.HeadSize));
        return t;
    }

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
