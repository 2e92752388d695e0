using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace HeadWise.Formats;

/// <summary>
/// The one way HeadWise opens a file it reads: only regular files (a FIFO would block forever and /dev/zero never
/// ends), sized by what the path finally points at (a Hugging Face cache snapshot is a folder of symlinks into
/// ../../blobs), and read whole only below a cap per kind of file (<see cref="FileLimits"/>), so no read is unbounded.
/// </summary>
public static class BoundedFile
{
    /// <summary>
    /// The size in bytes of the regular file <paramref name="path"/> points at, symlinks followed. Anything else
    /// (missing, a folder, a FIFO, a device, a socket, a dangling or looping link) is a <see cref="HeadWiseException"/>
    /// naming <paramref name="what"/>.
    /// </summary>
    public static long Size(string path, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (kind, size) = Stat(path, what);
        if (kind != FileKind.Regular) throw new InvalidModelFileException(path, $"{what} is {Describe(kind)}, not a regular file");
        return size;
    }

    /// <summary>True when <paramref name="path"/> leads to a regular file (the check that replaces File.Exists before a read).</summary>
    public static bool IsRegularFile(string path)
    {
        try { return Stat(path, "file").Kind == FileKind.Regular; }
        catch (HeadWiseException) { return false; }
    }

    /// <summary>
    /// Opens a regular file for reading, refusing it when larger than <paramref name="maxBytes"/>. The stream's
    /// Length is the real size of what was opened.
    /// </summary>
    public static FileStream OpenRead(string path, string what, long maxBytes = long.MaxValue, int bufferSize = 4096)
    {
        Size(path, what); // refuse a FIFO or device before open(2), which would block on a FIFO
        FileStream fs;
        try { fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidModelFileException(path, $"cannot open {what}: {e.Message}");
        }
        try
        {
            CheckLimit(path, what, fs.Length, maxBytes);
            return fs;
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    /// <summary>The whole file, at most <paramref name="maxBytes"/> bytes.</summary>
    public static byte[] ReadAllBytes(string path, string what, long maxBytes)
    {
        using var fs = OpenRead(path, what, maxBytes, bufferSize: 1);
        var data = new byte[fs.Length];
        int read = 0;
        while (read < data.Length)
        {
            int n = fs.Read(data, read, data.Length - read);
            if (n <= 0) throw new InvalidModelFileException(path, $"{what} ended at byte {read} of {data.Length} while being read (it changed)");
            read += n;
        }
        return data;
    }

    /// <summary>A JSON file, at most <paramref name="maxBytes"/> bytes, parsed with <see cref="ParseJson"/>.</summary>
    public static JsonDocument ReadJson(string path, string what, long maxBytes) => ParseJson(ReadAllBytes(path, what, maxBytes), path, what);

    /// <summary>
    /// Parses JSON bytes, refusing invalid UTF-8 and strings that do not decode (an escaped lone surrogate, "\ud800")
    /// up front: System.Text.Json decodes a string only when it is read, so either would otherwise surface later, in
    /// whichever reader touches it, as an InvalidOperationException.
    /// </summary>
    public static JsonDocument ParseJson(ReadOnlyMemory<byte> json, string path, string what)
    {
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
            throw new InvalidModelFileException(path, $"{what} is not valid UTF-8");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidModelFileException(path, $"{what} is not valid JSON: {e.Message}"); }
        try { CheckStrings(doc.RootElement); }
        catch (InvalidOperationException e)
        {
            doc.Dispose();
            throw new InvalidModelFileException(path, $"{what} has a string that is not valid text ({e.Message})");
        }
        return doc;
    }

    private static void CheckStrings(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String: e.GetString(); break;
            case JsonValueKind.Array: foreach (var item in e.EnumerateArray()) CheckStrings(item); break;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject()) { _ = p.Name; CheckStrings(p.Value); }
                break;
        }
    }

    /// <summary>The whole file as UTF-8 text (a BOM is dropped; invalid bytes become U+FFFD), at most <paramref name="maxBytes"/> bytes.</summary>
    public static string ReadAllText(string path, string what, long maxBytes)
    {
        var bytes = ReadAllBytes(path, what, maxBytes);
        var span = bytes.AsSpan();
        if (span.StartsWith("\uFEFF"u8)) span = span[3..];
        return Encoding.UTF8.GetString(span);
    }

    /// <summary>The file's lines (\n, \r\n or \r), at most <paramref name="maxBytes"/> bytes in all.</summary>
    public static string[] ReadAllLines(string path, string what, long maxBytes)
    {
        var lines = new List<string>();
        using var reader = new StringReader(ReadAllText(path, what, maxBytes));
        while (reader.ReadLine() is { } line) lines.Add(line);
        return [.. lines];
    }

    private static void CheckLimit(string path, string what, long length, long maxBytes)
    {
        if (length > maxBytes)
            throw new InvalidModelFileException(path, $"{what} is {length:N0} bytes, more than the {maxBytes:N0} a {what} may have");
    }

    private enum FileKind { Regular, Directory, Fifo, CharDevice, BlockDevice, Socket, Other }

    private static string Describe(FileKind kind) => kind switch
    {
        FileKind.Directory => "a folder",
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.CharDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        _ => "not a regular file",
    };

    private static (FileKind Kind, long Size) Stat(string path, string what)
    {
        if (path.Length == 0) throw new HeadWiseException($"{what}: empty path");
        // statx would read the path only up to the NUL (another file); .NET's open refuses it with an ArgumentException.
        if (path.Contains('\0')) throw new HeadWiseException($"{what}: the path {ErrorText.Quote(path)} contains a NUL character");
        if (OperatingSystem.IsLinux())
        {
            var linux = StatX(path, what);
            if (linux is { } r) return r;
        }
        return PortableStat(path, what);
    }

    // statx(2): its struct has the same layout on every Linux architecture (struct stat does not), and it follows symlinks.
    private const int AtFdCwd = -100, StatxType = 0x1, StatxSize = 0x200;
    private const int ENOENT = 2, EACCES = 13, ENOTDIR = 20, ELOOP = 40, ENAMETOOLONG = 36, ENOSYS = 38, EPERM = 1;

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern unsafe int StatXNative(int dirFd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte* buffer);

    private static unsafe (FileKind, long)? StatX(string path, string what)
    {
        byte* buf = stackalloc byte[256];
        int rc;
        try { rc = StatXNative(AtFdCwd, path, 0, StatxType | StatxSize, buf); }
        catch (EntryPointNotFoundException) { return null; }
        catch (DllNotFoundException) { return null; }
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == ENOSYS) return null; // a kernel or sandbox without statx
            throw new InvalidModelFileException(path, errno switch
            {
                ENOENT => $"{what} not found",
                ENOTDIR => $"{what} not found (a part of the path is not a folder)",
                EACCES or EPERM => $"permission denied reading {what}",
                ELOOP => $"{what}: too many levels of symbolic links (a link loop)",
                ENAMETOOLONG => $"{what}: the path is too long",
                _ => $"cannot read {what} (errno {errno})",
            });
        }
        uint mode = *(ushort*)(buf + 28) & 0xF000u;
        long size = *(long*)(buf + 40);
        var kind = mode switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
        return (kind, size);
    }

    // Elsewhere (Windows, macOS): follow the link with the BCL and trust what it reports for the target.
    private static (FileKind, long) PortableStat(string path, string what)
    {
        FileSystemInfo info;
        try
        {
            info = new FileInfo(path);
            if (info.LinkTarget is not null) info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        }
        catch (IOException e) { throw new InvalidModelFileException(path, $"cannot read {what}: {e.Message}"); }
        if (Directory.Exists(info.FullName)) return (FileKind.Directory, 0);
        if (!info.Exists) throw new InvalidModelFileException(path, $"{what} not found");
        return (FileKind.Regular, ((FileInfo)new FileInfo(info.FullName)).Length);
    }
}

/// <summary>Largest file of each kind HeadWise reads whole; each is far above real files and far below what would hurt.</summary>
public static class FileLimits
{
    public const long Mib = 1L << 20;
    /// <summary>config.json, generation_config.json, model.safetensors.index.json, train configs.</summary>
    public const long JsonConfig = 16 * Mib;
    /// <summary>tokenizer.json (the largest real ones, multilingual vocabularies, are about 35 MB).</summary>
    public const long TokenizerJson = 128 * Mib;
    /// <summary>llama2.c tokenizer.bin, SentencePiece tokenizer.model, vocab.txt.</summary>
    public const long Vocabulary = 64 * Mib;
    /// <summary>atlas.json (scores for every head plus parameters).</summary>
    public const long Atlas = 64 * Mib;
    /// <summary>DuoAttention's full_attention_heads.tsv (one line of gates per layer).</summary>
    public const long PatternTsv = 4 * Mib;
    /// <summary>An ONNX model read into memory whole (one array; MiniLM is 91 MB).</summary>
    public const long OnnxModel = 2000 * Mib;
    /// <summary>Probe and haystack texts.</summary>
    public const long Text = 256 * Mib;
}
