using System.Text.RegularExpressions;

namespace HeadWise.Eval.Tasks;

/// <summary>Filler sentences for haystacks: natural text split into sentences, or a fixed repeated filler.</summary>
public sealed partial class SentenceSource
{
    private readonly string[] _sentences;
    private readonly Dictionary<int, int[]> _encoded = [];
    private SegmentEncoder? _encoder;

    public SentenceSource(IReadOnlyList<string> sentences)
    {
        if (sentences.Count == 0) throw new HeadWiseException("the haystack text has no usable sentences");
        _sentences = [.. sentences];
    }

    public int Count => _sentences.Length;
    public string this[int i] => _sentences[i % _sentences.Length];

    /// <summary>Sentences of a text file: whitespace collapsed, 3 to 40 words each, so a needle snaps within a short span.</summary>
    public static SentenceSource FromFile(string path)
    {
        if (!File.Exists(path)) throw new HeadWiseException($"haystack text {path} does not exist");
        // Splitting a novel takes a while; a sweep or a test suite asks for the same file many times.
        var key = $"{Path.GetFullPath(path)}|{File.GetLastWriteTimeUtc(path).Ticks}";
        lock (Loaded)
            if (Loaded.TryGetValue(key, out var known)) return new SentenceSource(known._sentences);
        var loaded = Split(path);
        lock (Loaded) Loaded[key] = loaded;
        return new SentenceSource(loaded._sentences);
    }

    private static readonly Dictionary<string, SentenceSource> Loaded = [];

    private static SentenceSource Split(string path)
    {
        var text = WhiteSpace().Replace(Formats.BoundedFile.ReadAllText(path, "haystack text", Formats.FileLimits.Text).Replace('_', ' '), " ");
        var sentences = SentenceEnd().Split(text)
            .Select(s => s.Trim())
            .Where(s => s.Length > 0 && char.IsUpper(s[0]) && !s.Any(char.IsDigit))
            .Where(s => { int w = s.Count(c => c == ' ') + 1; return w >= 3 && w <= 40; })
            .ToList();
        if (sentences.Count < 10) throw new HeadWiseException($"haystack text {path} has only {sentences.Count} usable sentences (need 10)");
        return new SentenceSource(sentences);
    }

    /// <summary>Tokens of sentence <paramref name="i"/> (cyclic), cached per encoder.</summary>
    public int[] Tokens(SegmentEncoder encoder, int i)
    {
        if (!ReferenceEquals(encoder, _encoder)) { _encoded.Clear(); _encoder = encoder; }
        i %= _sentences.Length;
        if (!_encoded.TryGetValue(i, out var ids)) _encoded[i] = ids = encoder.Encode(_sentences[i]);
        return ids;
    }

    [GeneratedRegex(@"\s+")] private static partial Regex WhiteSpace();
    [GeneratedRegex(@"(?<=[.!?])\s+")] private static partial Regex SentenceEnd();
}
