namespace HeadWise.Analysis;

/// <summary>One gate-training sequence: token ids and the index where the supervised question-and-answer part starts.</summary>
public sealed record DuoSample(long[] Tokens, int AnswersFrom);

/// <summary>
/// DuoAttention's synthetic training data (its "multiple passkey retrieval" set): a haystack of book text with
/// <c>passkeys</c> needles, each a sequence of NATO-alphabet words, at sorted random depths; after the book, every
/// passkey is asked for in turn and answered. Distillation is supervised on that question-and-answer part only.
/// Haystack lengths cycle through an evenly spaced grid (a shuffled pass per epoch, as DuoAttention's loader draws
/// one sample per grid length); depths are drawn without repetition from a fine grid between 5 % and 95 %.
/// Without a tokenizer (constructed test models) words are random token ids.
/// </summary>
public sealed class DuoTrainingData
{
    private static readonly string[] Alphabet =
    [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima", "mike",
        "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
    ];
    private static readonly string[] Ordinals =
    [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
        "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth",
    ];

    private readonly Func<string, int[]>? _encode;
    private readonly int? _bos;
    private readonly int[] _haystack;
    private readonly DuoGateTraining _t;
    private readonly int _context, _vocab;
    private readonly int[] _lengths;
    private readonly Random _rng;
    private int[] _epoch = [];
    private int _next;

    public DuoTrainingData(Func<string, int[]>? encode, int? bos, int[] haystack, DuoGateTraining training, int contextLength, int vocab, int seed)
    {
        if (training.Passkeys is < 1 or > 20) throw new HeadWiseException($"duo-gate: passkeys must be 1-20, got {training.Passkeys}");
        _encode = encode; _bos = bos; _haystack = haystack; _t = training; _context = contextLength; _vocab = vocab;
        _rng = new Random(seed);
        var (min, max) = training.Lengths(contextLength);
        int n = Math.Max(1, training.LengthIntervals);
        _lengths = Enumerable.Range(0, n).Select(i => n == 1 ? max : (int)(min + (double)(max - min) * i / (n - 1))).Distinct().ToArray();
        if (haystack.Length < 1) throw new HeadWiseException("duo-gate needs haystack text: the probe documents are empty");
    }

    /// <summary>The haystack lengths the samples cycle through.</summary>
    public IReadOnlyList<int> Lengths => _lengths;

    public DuoSample Next()
    {
        if (_next == _epoch.Length) { _epoch = _lengths.OrderBy(_ => _rng.Next()).ToArray(); _next = 0; }
        int length = _epoch[_next++];
        int k = _t.Passkeys;
        var keys = Enumerable.Range(0, k).Select(_ => Passkey()).ToArray();
        var needles = Enumerable.Range(0, k).Select(i => Text($"\n\nRemember this sequence of words, it is the {Ordinals[i]} passkey to the vault: ").Concat(keys[i]).Concat(Text("\n\n")).ToArray()).ToArray();
        var qa = Enumerable.Range(0, k).SelectMany(i => Text($"Based on the content of the book, what is the {Ordinals[i]} passkey to the vault?\nPasskey: ").Concat(keys[i]).Concat(Text("\n\n"))).ToArray();
        var head = (_bos is { } b ? [b] : Array.Empty<int>()).Concat(Text("This is a very long story book: <book> ")).ToArray();
        var tail = Text(" </book>.\n\n");
        int overhead = head.Length + needles.Sum(n => n.Length) + tail.Length + qa.Length;
        int hay = Math.Min(length, _context - overhead);
        if (hay < 1) throw new HeadWiseException($"duo-gate: {k} passkeys and their questions take {overhead} tokens, more than the model's {_context}-token context; use fewer passkeys or words");
        int start = _rng.Next(Math.Max(1, _haystack.Length - hay + 1));
        var text = Enumerable.Range(0, hay).Select(i => _haystack[(start + i) % _haystack.Length]).ToArray();
        // k distinct depths from the grid, sorted; needles go in at those fractions of the haystack.
        int grid = Math.Max(k, _t.DepthIntervals);
        var depths = Enumerable.Range(0, grid).OrderBy(_ => _rng.Next()).Take(k).Order()
            .Select(i => _t.MinDepth + (_t.MaxDepth - _t.MinDepth) * (grid == 1 ? 0 : (double)i / (grid - 1))).ToArray();
        var tokens = new List<int>(head);
        int last = 0;
        for (int i = 0; i < k; i++)
        {
            int at = (int)(hay * depths[i]);
            tokens.AddRange(text[last..at]);
            tokens.AddRange(needles[i]);
            last = at;
        }
        tokens.AddRange(text[last..]);
        tokens.AddRange(tail);
        int answersFrom = tokens.Count;
        tokens.AddRange(qa);
        return new DuoSample(tokens.Select(x => (long)x).ToArray(), answersFrom);
    }

    private int[] Passkey()
    {
        int words = _t.WordsPerPasskey(_context);
        if (_encode is null) return Enumerable.Range(0, words).Select(_ => _rng.Next(1, _vocab)).ToArray();
        return Text(string.Join(' ', Enumerable.Range(0, words).Select(_ => Alphabet[_rng.Next(Alphabet.Length)])));
    }

    /// <summary>Template text as tokens; without a tokenizer a fixed pseudo-random token string per text.</summary>
    private int[] Text(string s)
    {
        if (_encode is not null) return _encode(s);
        // string.GetHashCode differs between processes; FNV-1a keeps the ids the same every run.
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        var r = new Random((int)(h & 0x7fffffff));
        return Enumerable.Range(0, Math.Max(1, s.Length / 8)).Select(_ => r.Next(1, _vocab)).ToArray();
    }
}
