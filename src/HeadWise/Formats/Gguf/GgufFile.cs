using System.IO.MemoryMappedFiles;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// A GGUF (v2/v3, little-endian) file, memory-mapped read-only. <see cref="Open"/> parses and validates the whole
/// header (metadata, tensor table, alignment, bounds, overlaps) before any tensor is touched, so later reads
/// cannot run off the mapping. Spans returned by <see cref="RawBytes"/> are valid until <see cref="Dispose"/>.
/// </summary>
internal sealed unsafe partial class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" read as little-endian uint32
    public const int DefaultAlignment = 32;
    public const int MaxDims = 4;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;
    private readonly Dictionary<string, GgufTensorInfo> _byName;

    public string Path { get; }
    public uint Version { get; }
    public long FileLength { get; }
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public int Alignment { get; }
    /// <summary>Absolute file offset of the tensor data section; tensor offsets are relative to it.</summary>
    public long DataOffset { get; }

    /// <summary>general.architecture (e.g. "llama").</summary>
    public string Architecture => GetString("general.architecture");

    private GgufFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr)
    {
        Path = path;
        FileLength = length;
        _map = map;
        _view = view;
        _base = basePtr;

        var r = new GgufMetadataReader(basePtr, length, path);
        var magic = r.ReadUInt32("magic");
        if (magic != Magic)
            throw r.Error($"bad magic 0x{magic:X8}: not a GGUF file (expected \"GGUF\")");
        Version = r.ReadUInt32("version");
        if (Version == 1)
            throw r.Error("GGUF version 1 is not supported (only versions 2 and 3)");
        if (Version is not (2 or 3))
            throw r.Error((Version & 0xFFFF) == 0
                ? $"big-endian GGUF (version field 0x{Version:X8}) is not supported"
                : $"unsupported GGUF version {Version} (only versions 2 and 3)");

        // Smallest tensor entry: name length 8 + n_dims 4 + one dim 8 + type 4 + offset 8; smallest kv: 8 + 4 + 1.
        var tensorCount = r.ReadCount("tensor count", 32);
        var kvCount = r.ReadCount("metadata kv count", 13);

        var metadata = new Dictionary<string, object>((int)Math.Min(kvCount, 1024), StringComparer.Ordinal);
        for (long i = 0; i < kvCount; i++)
        {
            var key = r.ReadString($"metadata key #{i}");
            var typeId = r.ReadUInt32($"value type of {key}");
            var value = r.ReadValue((GgufValueType)typeId, key);
            if (!metadata.TryAdd(key, value)) throw r.Error($"duplicate metadata key '{key}'");
        }
        Metadata = metadata;
        Alignment = ReadAlignment(r);

        var tensors = new List<GgufTensorInfo>((int)Math.Min(tensorCount, 65536));
        _byName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        for (long i = 0; i < tensorCount; i++)
        {
            var t = ReadTensorInfo(r, i);
            if (!_byName.TryAdd(t.Name, t)) throw r.Error($"duplicate tensor name '{t.Name}'");
            tensors.Add(t);
        }
        Tensors = tensors;

        // The data section starts at the next multiple of the alignment after the tensor table.
        DataOffset = (r.Position + Alignment - 1) / Alignment * Alignment;
        CheckTensorBounds(r, tensors);
    }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="InvalidModelFileException"/> for anything malformed.</summary>
    public static GgufFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("GGUF reading needs a little-endian host");
        var fs = BoundedFile.OpenRead(path, "GGUF file");
        var length = fs.Length;
        if (length < 24) // magic + version + two counts; also: an empty file cannot be mapped
        {
            fs.Dispose();
            throw new InvalidModelFileException(path, $"truncated file: {length} bytes is too short for a GGUF header (magic, version, counts need 24)");
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        var acquired = false;
        try
        {
            map = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            return new GgufFile(path, length, map, view, p + view.PointerOffset);
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            if (map != null) map.Dispose(); else fs.Dispose();
            throw;
        }
    }

    private int ReadAlignment(GgufMetadataReader r)
    {
        if (!Metadata.ContainsKey("general.alignment")) return DefaultAlignment;
        var a = GetInteger("general.alignment");
        if (a <= 0 || (a & (a - 1)) != 0 || a > 1 << 30)
            throw r.Error($"general.alignment {a} is not a power of two (between 1 and 2^30)");
        return (int)a;
    }

    private GgufTensorInfo ReadTensorInfo(GgufMetadataReader r, long index)
    {
        var name = r.ReadString($"name of tensor #{index}");
        var nDims = r.ReadUInt32($"n_dims of tensor '{name}'");
        if (nDims is 0 or > MaxDims)
            throw r.Error($"tensor '{name}' has n_dims {nDims}; GGUF allows 1 to {MaxDims} dimensions");
        var shape = new long[nDims];
        long elements = 1;
        for (var d = 0; d < nDims; d++)
        {
            var ne = r.ReadUInt64($"dimension {d} of tensor '{name}'");
            if (ne == 0 || ne > long.MaxValue)
                throw r.Error($"tensor '{name}' dimension {d} is {(long)ne}; every dimension must be positive");
            shape[d] = (long)ne;
            try { elements = checked(elements * (long)ne); }
            catch (OverflowException)
            {
                throw r.Error($"tensor '{name}' shape [{string.Join(", ", shape[..(d + 1)])}]: element count overflows (dimension product too large)");
            }
        }
        var typeId = r.ReadUInt32($"type of tensor '{name}'");
        if (!GgmlTypeInfo.IsKnown(typeId))
            throw r.Error($"tensor '{name}' has unknown tensor type id {typeId}");
        var type = (GgmlType)typeId;
        GgmlTypeInfo.TryGetLayout(type, out var blockSize, out var blockBytes);
        if (shape[0] % blockSize != 0)
            throw r.Error($"tensor '{name}' of type {type}: row length {shape[0]} is not a multiple of the block size {blockSize}");
        long bytes;
        try { bytes = checked(elements / blockSize * blockBytes); }
        catch (OverflowException) { throw r.Error($"tensor '{name}': byte size overflows"); }
        var offset = r.ReadUInt64($"offset of tensor '{name}'");
        if (offset % (ulong)Alignment != 0)
            throw r.Error($"tensor '{name}' offset {offset} is not aligned to {Alignment} bytes (general.alignment)");
        return new GgufTensorInfo(name, shape, type, offset, elements, bytes);
    }

    private void CheckTensorBounds(GgufMetadataReader r, List<GgufTensorInfo> tensors)
    {
        var room = FileLength - DataOffset; // may be negative when the table runs to the very end
        foreach (var t in tensors)
        {
            if (room < 0 || t.Offset > (ulong)room || t.ByteSize > room - (long)t.Offset)
                throw r.Error($"tensor '{t.Name}' data (offset {t.Offset}, {t.ByteSize} bytes, data section at {DataOffset}) runs past the end of the file ({FileLength} bytes)");
        }
        var sorted = tensors.OrderBy(t => t.Offset).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            var a = sorted[i - 1];
            var b = sorted[i];
            if (a.Offset + (ulong)a.ByteSize > b.Offset)
                throw r.Error($"tensors '{a.Name}' (offset {a.Offset}, {a.ByteSize} bytes) and '{b.Name}' (offset {b.Offset}) overlap");
        }
    }

    public bool TryGetTensor(string name, out GgufTensorInfo tensor) => _byName.TryGetValue(name, out tensor!);

    public GgufTensorInfo GetTensor(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new InvalidModelFileException(Path, $"no tensor named '{name}'");

    /// <summary>The tensor's bytes as stored, valid until the file is disposed. Tensors over 2 GiB need <see cref="RawPointer"/>.</summary>
    public ReadOnlySpan<byte> RawBytes(GgufTensorInfo tensor)
    {
        var p = RawPointer(tensor);
        if (tensor.ByteSize > int.MaxValue)
            throw new NotSupportedException($"tensor '{tensor.Name}' is {tensor.ByteSize} bytes, too big for a span; use RawPointer");
        return new ReadOnlySpan<byte>(p, (int)tensor.ByteSize);
    }

    /// <summary>Pointer to the tensor's first byte in the mapping (<see cref="GgufTensorInfo.ByteSize"/> bytes are readable).</summary>
    public byte* RawPointer(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        ArgumentNullException.ThrowIfNull(tensor);
        // Only entries from this file's validated table may be dereferenced.
        if (!_byName.TryGetValue(tensor.Name, out var own) || !own.Equals(tensor))
            throw new ArgumentException($"tensor '{tensor.Name}' does not belong to {Path}", nameof(tensor));
        return _base + DataOffset + (long)tensor.Offset;
    }

    /// <summary>Dequantises the tensor (any type <see cref="GgmlTypeInfo.CanDequantize"/> accepts) into <paramref name="destination"/>, whose length must equal ElementCount.</summary>
    public void ReadFloats(GgufTensorInfo tensor, Span<float> destination)
    {
        var src = Readable(tensor, destination.Length);
        fixed (float* dst = destination)
            Dequantize.ToFloats(tensor.Type, src, dst, tensor.ElementCount);
        MappedPages.Release(src, tensor.ByteSize);
    }

    /// <summary>As <see cref="ReadFloats(GgufTensorInfo, Span{float})"/>, rounded to bfloat16 chunk by chunk (no float32 copy of the tensor).</summary>
    public void ReadBFloat16(GgufTensorInfo tensor, Span<ushort> destination)
    {
        var src = Readable(tensor, destination.Length);
        fixed (ushort* dst = destination)
            Dequantize.ToBFloat16(tensor.Type, src, dst, tensor.ElementCount, Path, tensor.Name);
        MappedPages.Release(src, tensor.ByteSize);
    }

    private byte* Readable(GgufTensorInfo tensor, long destinationLength)
    {
        var src = RawPointer(tensor);
        if (destinationLength != tensor.ElementCount)
            throw new ArgumentException($"destination has {destinationLength} elements but tensor '{tensor.Name}' has {tensor.ElementCount}", "destination");
        if (!GgmlTypeInfo.CanDequantize(tensor.Type))
            throw UnreadableType(tensor);
        return src;
    }

    /// <summary>The one error for a tensor type HeadWise cannot read.</summary>
    public InvalidModelFileException UnreadableType(GgufTensorInfo tensor) => new(Path,
        $"tensor '{tensor.Name}' has type {tensor.Type}, which HeadWise cannot read (it reads {GgmlTypeInfo.Readable})");

    public float[] ReadFloats(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.ElementCount > Array.MaxLength)
            throw new NotSupportedException($"tensor '{tensor.Name}' has {tensor.ElementCount} elements, too many for one array");
        var a = new float[tensor.ElementCount];
        ReadFloats(tensor, a);
        return a;
    }

    public float[] ReadFloats(string name) => ReadFloats(GetTensor(name));

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
