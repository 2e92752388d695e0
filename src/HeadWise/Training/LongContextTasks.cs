using HeadWise.Prompts;
using HeadWise.Tokenizers;

namespace HeadWise.Training;

/// <summary>The kinds of training sequence the data mixer draws.</summary>
internal enum SampleKind { Text, Passkey, Niah, KvRetrieval, Copy }

/// <summary>What a needle-in-a-haystack sample hides and asks for.</summary>
public enum NeedleStyle
{
    /// <summary>One "special magic number" (Kamradt 2023).</summary>
    MagicNumber,
    /// <summary>Numbers for named keys among distractor keys (RULER's multikey): the question's key decides.</summary>
    Keyed,
    /// <summary>Facts whose answers are phrases to copy (a place's best thing to do); several places per sample.</summary>
    Fact,
}

/// <summary>
/// Generated long-context tasks that only a head retrieving from far back can solve, so that retrieval heads
/// must form: passkey (Mohtashami and Jaggi 2023), needle in a haystack (Kamradt 2023; RULER's wordings), key-value
/// retrieval (Liu et al. 2023, "Lost in the middle") and copying (induction, Olsson et al. 2022). Every sample starts
/// with BOS. Passkey and needle prompts are worded by <see cref="PromptWording"/> in all of its phrasings (the
/// evaluation harness asks in the first of each); their contents (places, keys, phrases) are never the evaluation's.
/// </summary>
internal sealed class LongContextTasks
{
    public const string KvIntro = "Below is a list of keys and their values. Remember them.\n";
    public const string CopySeparator = "\n\nRepeat:\n\n";

    // Training contents: none of these is among the evaluation's places or key words (a test checks).
    internal static readonly string[] KeyAdjectives =
    [
        "noble", "proud", "quiet", "rusty", "bold", "crisp", "dark", "early", "fancy", "giant", "happy", "jagged", "keen", "lazy",
        "merry", "narrow", "odd", "pale", "quick", "rapid", "sharp", "tiny", "urban", "vivid", "warm", "young", "bright", "cosmic",
        "deep", "fierce", "golden", "humble", "silent", "wild", "frozen", "hidden", "lunar", "royal", "solar", "silver",
    ];
    internal static readonly string[] KeyNouns =
    [
        "apple", "river", "window", "marble", "thunder", "cedar", "violet", "compass", "canyon", "ember", "glacier", "jasmine",
        "kettle", "lemon", "mirror", "needle", "orchard", "pepper", "quartz", "saddle", "tunnel", "velvet", "walnut", "castle",
        "dragon", "pebble", "ribbon", "summit", "timber", "basket", "cobalt", "feather", "ginger", "hammer", "jungle", "kitten",
        "ladder", "magnet", "oyster", "parrot", "rocket", "shadow", "tiger", "valley", "wagon", "willow", "copper", "dolphin",
        "forest", "galaxy", "helmet", "lotus", "maple", "olive", "rabbit", "spider", "tulip", "violin", "wizard", "zebra",
    ];
    internal static readonly string[] Places =
    [
        "Paris", "Boston", "Chicago", "Madrid", "Dublin", "Vienna", "Prague", "Nairobi", "Seoul", "Sydney", "Toronto", "Havana",
        "Athens", "Istanbul", "Mumbai", "Bangkok", "Quito", "Rome", "Berlin", "Denver", "Seattle", "Montreal", "Naples", "Porto",
        "Krakow", "Hanoi", "Munich", "Geneva", "Warsaw", "Budapest", "Helsinki", "Stockholm", "Amsterdam", "Florence", "Venice",
        "Seville", "Tokyo", "Osaka", "Delhi", "Jakarta", "Manila", "Santiago", "Bogota", "Dakar", "Accra", "Tunis", "Melbourne",
        "Auckland", "Vancouver", "Houston", "Atlanta", "Miami", "New Orleans", "Buenos Aires", "Cape Town", "Hong Kong",
    ];

    private readonly ByteLevelBpeTokenizer _tok;
    private readonly int[] _text;
    private readonly int _bos;
    private readonly TrainConfig _config;
    private readonly float _answer, _niahAnswer;
    private readonly int[][] _passkeyFiller;
    private readonly bool[] _startsWord;

    /// <param name="text">Token ids of the text that fills haystacks (training text, or held-out text for probes).</param>
    public LongContextTasks(ByteLevelBpeTokenizer tokenizer, int[] text, TrainConfig config)
    {
        if (text.Length < 16) throw new HeadWiseException($"the training text is only {text.Length} tokens long");
        _tok = tokenizer;
        _text = text;
        _config = config;
        _bos = tokenizer.BosId ?? throw new HeadWiseException("the tokenizer has no BOS token");
        _answer = (float)config.AnswerWeight;
        _niahAnswer = (float)(config.NiahAnswerWeight ?? config.AnswerWeight);
        _passkeyFiller = PromptWording.PasskeyFiller.Select(Piece).ToArray();
        _startsWord = Enumerable.Range(0, tokenizer.VocabSize).Select(id => tokenizer.Decode([id]) is [' ', >= 'a' and <= 'z', ..]).ToArray();
    }

    /// <summary>A sample of <paramref name="total"/> tokens; null when the task does not fit in that many.</summary>
    /// <param name="style">The needle style of a niah sample; null: drawn by the config's <c>niah_styles</c>.</param>
    /// <param name="copyRepeatShare">Overrides the config's share of repeated-segment copy samples.</param>
    public TrainingSample? Make(SampleKind kind, Random rng, int total, NeedleStyle? style = null, double? copyRepeatShare = null) => kind switch
    {
        SampleKind.Text => new SampleBuilder().Add([_bos]).Gap(1).Build(total, n => Text(rng, n)),
        SampleKind.Passkey => Passkey(rng, total),
        SampleKind.Niah => (style ?? DrawStyle(rng)) switch
        {
            NeedleStyle.MagicNumber => MagicNumber(rng, total),
            NeedleStyle.Keyed => Keyed(rng, total),
            _ => Facts(rng, total),
        },
        SampleKind.KvRetrieval => KvRetrieval(rng, total),
        SampleKind.Copy => Copy(rng, total, copyRepeatShare ?? _config.CopyRepeatShare),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private NeedleStyle DrawStyle(Random rng)
    {
        var m = _config.NiahStyles;
        double r = rng.NextDouble() * (m.MagicNumber + m.Keyed + m.Fact);
        return r < m.MagicNumber ? NeedleStyle.MagicNumber : r < m.MagicNumber + m.Keyed ? NeedleStyle.Keyed : NeedleStyle.Fact;
    }

    private int[] Enc(string s) => _tok.Encode(s, addBos: false, parseSpecial: false).ToArray();

    /// <summary>A prompt piece as the evaluation harness encodes it: after a space (nothing for an empty piece).</summary>
    private int[] Piece(string s) => s.Length == 0 ? [] : Enc(" " + s);

    /// <summary>A question after a space (as the harness asks) or on a new line.</summary>
    private int[] Question(Random rng, string q) => Enc((rng.NextDouble() < 0.5 ? " " : "\n") + q);

    /// <summary>A run of n training-text tokens from a random place.</summary>
    private int[] Text(Random rng, int n)
    {
        var result = new int[n];
        int filled = 0;
        while (filled < n)
        {
            int start = rng.Next(_text.Length), take = Math.Min(n - filled, _text.Length - start);
            Array.Copy(_text, start, result, filled, take);
            filled += take;
        }
        return result;
    }

    private static string Number(Random rng, int minDigits, int maxDigits)
    {
        int digits = rng.Next(minDigits, maxDigits + 1);
        var chars = new char[digits];
        chars[0] = (char)('1' + rng.Next(9));
        for (int i = 1; i < digits; i++) chars[i] = (char)('0' + rng.Next(10));
        return new string(chars);
    }

    /// <summary>
    /// A share in [0.02, 0.98] for where the needle sits (the rest goes after it). Half the needles sit in the first
    /// third: the farthest ones are the hardest to learn, and a uniform depth alone left them mostly unlearnt.
    /// </summary>
    private static double Depth(Random rng) => 0.02 + (rng.NextDouble() < 0.5 ? 0.96 : 0.31) * rng.NextDouble();

    private static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    private SampleBuilder Start(string intro) => new SampleBuilder().Add([_bos]).Add(Piece(intro));

    private TrainingSample? Passkey(Random rng, int total)
    {
        var key = Number(rng, 3, 7);
        double depth = Depth(rng);
        bool grass = rng.NextDouble() < 0.5;
        var form = PromptWording.Passkey.Form(rng);
        var b = Start(PromptWording.Passkey.Intro(rng)).Gap(depth).Add(Piece(form.NeedleFor("", key))).Gap(1 - depth)
            .Add(Question(rng, form.QuestionFor(""))).Answer(Enc(" " + key), _answer).Add(Enc("."));
        return b.Build(total, n => grass ? Grass(rng, n) : Text(rng, n));
    }

    /// <summary>The passkey filler sentences in order from a random one, cut at n tokens.</summary>
    private int[] Grass(Random rng, int n)
    {
        var result = new List<int>(n + 16);
        for (int i = rng.Next(_passkeyFiller.Length); result.Count < n; i++) result.AddRange(_passkeyFiller[i % _passkeyFiller.Length]);
        return [.. result.Take(n)];
    }

    private TrainingSample? MagicNumber(Random rng, int total)
    {
        var number = Number(rng, 5, 7);
        double depth = Depth(rng);
        var form = PromptWording.MagicNumber.Form(rng);
        return Start(PromptWording.MagicNumber.Intro(rng)).Gap(depth).Add(Piece(form.NeedleFor("", number))).Gap(1 - depth)
            .Add(Question(rng, form.QuestionFor(""))).Answer(Enc(" " + number), _niahAnswer).Add(Enc("."))
            .Build(total, n => Text(rng, n));
    }

    /// <summary>How many needles a keyed or fact sample hides: 1 to niah_facts.</summary>
    private int NeedleCount(Random rng) => 1 + rng.Next(_config.NiahFacts);

    /// <summary>
    /// Keyed numbers among distractors, as RULER's multikey: keys are mostly "adjective-noun" and a distractor often
    /// shares a word with another key, so only the whole key tells them apart. A random subset of the keys is asked at
    /// the end, in random order, each followed by its number.
    /// </summary>
    private TrainingSample? Keyed(Random rng, int total)
    {
        int count = NeedleCount(rng);
        var keys = new List<string>();
        while (keys.Count < count)
        {
            var key = keys.Count > 0 && rng.NextDouble() < 0.5 ? Sibling(rng, Pick(rng, keys)) : Key(rng);
            if (!keys.Contains(key)) keys.Add(key);
        }
        var values = keys.Select(_ => Number(rng, 5, 7)).ToArray();
        var form = PromptWording.Keyed.Form(rng);
        double depth = Depth(rng);
        var b = Start(PromptWording.Keyed.Intro(rng));
        // The first needle sits at the sample's depth (the hard far cases stay common); the others are spread at random.
        b.Gap(depth).Add(Piece(form.NeedleFor(keys[0], values[0])));
        for (int i = 1; i < count; i++) b.Gap(rng.NextDouble() * (1 - depth) + 0.02).Add(Piece(form.NeedleFor(keys[i], values[i])));
        b.Gap(count == 1 ? 1 - depth : rng.NextDouble() * (1 - depth) + 0.02);
        foreach (int i in Enumerable.Range(0, count).OrderBy(_ => rng.Next()).Take(1 + rng.Next(count)))
            b.Add(Question(rng, form.QuestionFor(keys[i]))).Answer(Enc(" " + values[i]), _niahAnswer).Add(Enc("."));
        return b.Build(total, n => Text(rng, n));
    }

    private static string Key(Random rng) => rng.NextDouble() switch
    {
        < 0.6 => $"{Pick(rng, KeyAdjectives)}-{Pick(rng, KeyNouns)}",
        < 0.8 => Pick(rng, KeyNouns),
        _ => $"{PseudoWord(rng)}-{PseudoWord(rng)}",
    };

    /// <summary>A key sharing one word with <paramref name="key"/> (for a single word, a compound with it).</summary>
    private static string Sibling(Random rng, string key)
    {
        var parts = key.Split('-');
        if (parts.Length == 1) return rng.NextDouble() < 0.5 ? $"{Pick(rng, KeyAdjectives)}-{key}" : $"{key}-{Pick(rng, KeyNouns)}";
        return rng.NextDouble() < 0.5 ? $"{parts[0]}-{Pick(rng, KeyNouns)}" : $"{Pick(rng, KeyAdjectives)}-{parts[1]}";
    }

    /// <summary>
    /// Facts whose answers are phrases to copy; with several, each question's place decides which phrase. One fact sits
    /// at the sample's depth; several are spread at random and asked in random order.
    /// </summary>
    private TrainingSample? Facts(Random rng, int total)
    {
        var places = new List<string>();
        for (int count = NeedleCount(rng); places.Count < count;)
        {
            var p = rng.NextDouble() < 0.5 ? Pick(rng, Places) : Capitalised(PseudoWord(rng));
            if (!places.Contains(p)) places.Add(p);
        }
        var form = PromptWording.Fact.Form(rng);
        var facts = places.Select(p => (Place: p, Phrase: Phrase(rng))).ToList();
        bool several = facts.Count > 1;
        double depth = Depth(rng);
        var b = Start(PromptWording.Fact.Intro(rng));
        if (!several) b.Gap(depth);
        foreach (var (place, phrase) in facts)
        {
            if (several) b.Gap(rng.NextDouble() + 0.05);
            var (before, after) = form.NeedleAround(place);
            b.Add(Piece(before.TrimEnd())).Add(phrase).Add(Enc(after));
        }
        b.Gap(several ? rng.NextDouble() + 0.05 : 1 - depth);
        foreach (var (place, phrase) in several ? facts.OrderBy(_ => rng.Next()).ToList() : facts)
            b.Add(Question(rng, form.QuestionFor(place))).Answer(phrase, _niahAnswer).Add(Enc("."));
        return b.Build(total, n => Text(rng, n));
    }

    private static string Capitalised(string word) => char.ToUpperInvariant(word[0]) + word[1..];

    /// <summary>
    /// A phrase to copy: a run of training text from a word start, with up to three invented words in it. An invented
    /// word breaks into short pieces (" b", "am") found all over the context, as rare words do ("bamboo", "ceviche" in
    /// the harness), so only a head matching several tokens back copies it; a fixed list of phrases was memorised instead.
    /// </summary>
    private int[] Phrase(Random rng)
    {
        int n = 6 + rng.Next(16), start = rng.Next(_text.Length - n);
        for (int tries = 0; tries < 64 && !_startsWord[_text[start]]; tries++) start = rng.Next(_text.Length - n);
        var tokens = new List<int>(_text[start..(start + n)]);
        for (int i = rng.Next(4); i > 0; i--)
        {
            // Before a word (or at the end), so the invented word stays whole rather than gluing onto the next piece.
            var boundaries = Enumerable.Range(1, tokens.Count).Where(k => k == tokens.Count || _startsWord[tokens[k]]).ToList();
            tokens.InsertRange(Pick(rng, boundaries), Enc(" " + PseudoWord(rng)));
        }
        return [.. tokens];
    }

    private TrainingSample? KvRetrieval(Random rng, int total)
    {
        // As many pairs as fit in about half the sequence; a few queries at the end.
        var b = new SampleBuilder().Add([_bos]).Add(Enc(KvIntro));
        int budget = total / 2, queries = 2 + rng.Next(6);
        var pairs = new List<(string Key, string Value)>();
        var used = new HashSet<string>();
        while (true)
        {
            var key = PseudoWord(rng);
            if (!used.Add(key)) continue;
            var pair = (key, Number(rng, 4, 7));
            var line = Enc($"{pair.key} = {pair.Item2}\n");
            if (b.FixedLength + line.Length > budget && pairs.Count >= 2) break;
            b.Add(line);
            pairs.Add(pair);
        }
        b.Gap(1);
        for (int q = 0; q < queries; q++)
        {
            var (key, value) = pairs[rng.Next(pairs.Count)];
            var ask = Enc($"\nThe value of {key} is");
            var answer = Enc(" " + value);
            if (b.FixedLength + ask.Length + answer.Length + 1 > total) break;
            b.Add(ask).Answer(answer, _answer);
        }
        return b.Build(total, n => Text(rng, n));
    }

    private static string PseudoWord(Random rng)
    {
        const string consonants = "bcdfghklmnprstvz", vowels = "aeiou";
        var chars = new char[2 * (2 + rng.Next(2))];
        for (int i = 0; i < chars.Length; i++) chars[i] = i % 2 == 0 ? consonants[rng.Next(consonants.Length)] : vowels[rng.Next(vowels.Length)];
        return new string(chars);
    }

    private TrainingSample? Copy(Random rng, int total, double repeatShare)
    {
        var sep = Enc(CopySeparator);
        if (repeatShare > 0 && rng.NextDouble() < repeatShare)
        {
            // A short random segment repeated until the sequence is full: many copies per sample, the densest
            // signal for an induction head (Olsson et al. 2022 measure induction on exactly such repeats).
            int n = 4 + rng.Next(Math.Max(1, Math.Min(60, total / 4)));
            var unit = RandomTokens(rng, n);
            var b = new SampleBuilder().Add([_bos]).Add(unit);
            while (b.FixedLength + n <= total) b.Answer(unit, _answer);
            return b.Gap(1).Build(total, k => Text(rng, k));
        }
        int max = (total - 1 - sep.Length) / 2;
        int length = Math.Max(1, rng.Next(max / 4, max + 1));
        // Natural text, or random tokens that no language model can guess: only copying predicts them.
        int[] segment = rng.NextDouble() < 0.7 ? Text(rng, length) : RandomTokens(rng, length);
        if (rng.NextDouble() < 0.5)
            return new SampleBuilder().Add([_bos]).Gap(1).Add(segment).Add(sep).Answer(segment, _answer).Build(total, n => Text(rng, n));
        // Recall without a separator: a span somewhere in the text comes back at the end, and after its first few
        // tokens only the earlier occurrence predicts the rest (the induction behind Wu et al.'s retrieval heads).
        var span = segment[..Math.Min(segment.Length, 8 + rng.Next(40))];
        int cue = Math.Min(span.Length - 1, 2 + rng.Next(3));
        double depth = Depth(rng);
        return new SampleBuilder().Add([_bos]).Gap(depth).Add(span).Gap(1 - depth).Add(span[..cue]).Answer(span[cue..], _answer)
            .Build(total, n => Text(rng, n));
    }

    /// <summary>Random tokens from the <c>copy_random_vocab</c> most frequent learned pieces (ids after the bytes), or from all.</summary>
    private int[] RandomTokens(Random rng, int n)
    {
        int randomVocab = _config.CopyRandomVocab;
        int first = 2 + 256, count = randomVocab > 0 ? Math.Min(randomVocab, _tok.VocabSize - first) : _tok.VocabSize - 2;
        if (count <= 0) { first = 2; count = _tok.VocabSize - 2; }
        else if (randomVocab <= 0) first = 2;
        return Enumerable.Range(0, n).Select(_ => first + rng.Next(count)).ToArray();
    }
}
