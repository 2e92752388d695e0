using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace HeadWise.Formats.Safetensors;

/// <summary>
/// A read-only, memory-mapped safetensors file: 8-byte little-endian header length, JSON header, then the raw
/// tensor bytes. The whole header is validated in <see cref="Open"/>; tensors are converted to float32 on read.
/// </summary>
internal sealed unsafe class SafetensorsFile : ISafetensorsSource
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;
    private byte* _base;  // start of the mapped view
    private readonly long _dataStart;
    private readonly FileStream _file;  // the file that was mapped; tensor bytes are read from its handle

    private SafetensorsFile(string path, FileStream file, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, long dataStart,
        Dictionary<string, SafetensorsTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        SourcePath = path; _file = file; _map = map; _view = view; _base = basePtr; _dataStart = dataStart; _tensors = tensors; Metadata = metadata;
    }

    public string SourcePath { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<string> Names => _tensors.Keys;
    public bool Contains(string name) => _tensors.ContainsKey(name);
    public long[] Shape(string name) => (long[])Info(name).Shape.Clone();

    public SafetensorsTensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new InvalidModelFileException(SourcePath, $"tensor '{name}' is not in the file");

    public static SafetensorsFile Open(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reading needs a little-endian machine");
        // Sized by what the path points at: in a Hugging Face cache the file is a symlink into ../../blobs.
        var file = BoundedFile.OpenRead(path, "safetensors file");
        var length = file.Length;
        if (length < 8)
        {
            file.Dispose();
            throw new InvalidModelFileException(path, $"file is {length} bytes, too short for the 8-byte header length");
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* ptr = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            ptr += view.PointerOffset;

            var headerLength = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(ptr, 8));
            if (headerLength <= 0 || headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw new InvalidModelFileException(path, $"header length {headerLength} is absurd (must be 1..{SafetensorsHeader.MaxHeaderBytes})");
            if (8 + headerLength > length)
                throw new InvalidModelFileException(path, $"header length {headerLength} runs past the end of the file ({length} bytes)");

            var dataStart = 8 + headerLength;
            var (tensors, metadata) = SafetensorsHeader.Parse(path, new ReadOnlySpan<byte>(ptr + 8, (int)headerLength), length - dataStart);
            return new SafetensorsFile(path, file, map, view, ptr, dataStart, tensors, metadata);
        }
        catch
        {
            if (ptr != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            file.Dispose();
            throw;
        }
    }

    public void ReadFloats(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        var t = Info(name);
        if (!SafetensorsDType.IsReadable(t.DType))
            throw new InvalidModelFileException(SourcePath, $"tensor '{name}' has unsupported dtype {t.DType} (HeadWise reads F32, F16, BF16)");
        var count = t.ElementCount;
        if (destination.Length != count)
            throw new ArgumentException($"tensor '{name}' has {count} elements but the destination holds {destination.Length}", nameof(destination));
        ReadInto(t.DType, _dataStart + t.Begin, destination);
    }

    /// <summary>bfloat16 tensors are read straight into the destination; F32 and F16 are rounded chunk by chunk.</summary>
    public void ReadBFloat16(string name, Span<ushort> destination)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        var t = Info(name);
        if (destination.Length != t.ElementCount)
            throw new ArgumentException($"tensor '{name}' has {t.ElementCount} elements but the destination holds {destination.Length}", nameof(destination));
        if (t.DType == SafetensorsDType.BF16)
        {
            ReadExactly(MemoryMarshal.AsBytes(destination), _dataStart + t.Begin);
            return;
        }
        const int chunk = 1 << 18;
        var floats = System.Buffers.ArrayPool<float>.Shared.Rent(chunk);
        try
        {
            for (int start = 0; start < destination.Length; start += chunk)
            {
                int n = Math.Min(chunk, destination.Length - start);
                ReadRange(name, t, start, floats.AsSpan(0, n));
                BFloat16.FromFloats(floats.AsSpan(0, n), destination.Slice(start, n), SourcePath, name);
            }
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(floats); }
    }

    /// <summary>Elements [start, start + destination.Length) of a tensor as float32.</summary>
    private void ReadRange(string name, SafetensorsTensorInfo t, long start, Span<float> destination)
    {
        if (!SafetensorsDType.IsReadable(t.DType))
            throw new InvalidModelFileException(SourcePath, $"tensor '{name}' has unsupported dtype {t.DType} (HeadWise reads F32, F16, BF16)");
        ReadInto(t.DType, _dataStart + t.Begin + start * SafetensorsDType.SizeOf(t.DType), destination);
    }

    /// <summary>
    /// Tensor bytes are read with pread into the destination (through a small buffer for F16/BF16), not through the
    /// mapping: touched mapped pages count in the process's resident set, so a loaded model would be resident twice.
    /// </summary>
    private void ReadInto(string dtype, long offset, Span<float> destination)
    {
        if (dtype == SafetensorsDType.F32)
        {
            ReadExactly(MemoryMarshal.AsBytes(destination), offset);
            return;
        }
        const int chunkElements = 1 << 18;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(chunkElements * 2);
        try
        {
            for (int start = 0; start < destination.Length; start += chunkElements)
            {
                int n = Math.Min(chunkElements, destination.Length - start);
                ReadExactly(buffer.AsSpan(0, n * 2), offset + 2L * start);
                fixed (byte* src = buffer) Convert(dtype, src, destination.Slice(start, n));
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(buffer); }
    }

    private void ReadExactly(Span<byte> into, long offset)
    {
        while (into.Length > 0)
        {
            int n = RandomAccess.Read(_file.SafeFileHandle, into, offset);
            if (n <= 0) throw new InvalidModelFileException(SourcePath, $"file ended at byte {offset} while reading tensor data");
            into = into[n..];
            offset += n;
        }
    }

    /// <summary>Converts little-endian elements at <paramref name="src"/> to float32. Unaligned reads are fine on x64/arm64.</summary>
    internal static void Convert(string dtype, byte* src, Span<float> destination)
    {
        var n = destination.Length;
        switch (dtype)
        {
            case SafetensorsDType.F32:
                new ReadOnlySpan<float>(src, n).CopyTo(destination);
                break;
            case SafetensorsDType.F16:
                // (float)Half is a hardware conversion on current .NET; no extra package needed.
                var halves = new ReadOnlySpan<Half>(src, n);
                for (var i = 0; i < n; i++) destination[i] = (float)halves[i];
                break;
            case SafetensorsDType.BF16:
                // bfloat16 is the top half of a float32: widen by shifting the bits up.
                var bits = new ReadOnlySpan<ushort>(src, n);
                var outBits = MemoryMarshal.Cast<float, uint>(destination);
                for (var i = 0; i < n; i++) outBits[i] = (uint)bits[i] << 16;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a float dtype");
        }
    }

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        _file.Dispose();
    }
}
