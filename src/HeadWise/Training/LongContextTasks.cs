using HeadWise.Tokenizers;

namespace HeadWise.Training;

/// <summary>The kinds of training sequence the data mixer draws.</summary>
public enum SampleKind { Text, Passkey, Niah, KvRetrieval, Copy }

/// <summary>
/// Generated long-context tasks that only a head retrieving from far back can solve, so that retrieval heads
/// must form: passkey (Mohtashami and Jaggi 2023), needle in a haystack (Kamradt 2023; RULER's needle phrasing),
/// key-value retrieval (Liu et al. 2023, "Lost in the middle") and copying (induction, Olsson et al. 2022).
/// Answers are weighted by <c>answerWeight</c> in the loss. Every sample starts with BOS.
/// </summary>
public sealed class LongContextTasks
{
    /// <summary>The niah style whose answer is a phrase to copy (0: magic number, 1: RULER, 2: phrase).</summary>
    public const int NiahPhraseStyle = 2;

    public const string PasskeyIntro = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there.";
    public const string PasskeyFiller = " The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
    public static string PasskeyNeedle(string key, bool repeatKey = true) =>
        $" The pass key is {key}. Remember it." + (repeatKey ? $" {key} is the pass key." : "");
    public const string PasskeyQuestion = " What is the pass key? The pass key is";

    public static string NiahNeedle(string number) => $" The special magic number is: {number}.";
    public const string NiahQuestion = "\nWhat is the special magic number? The special magic number is:";
    public static string RulerNeedle(string word, string number) => $" One of the special magic numbers for {word} is: {number}.";
    public static string RulerQuestion(string word, string where = "provided text") =>
        $"\nWhat is the special magic number for {word} mentioned in the {where}? The special magic number for {word} mentioned in the {where} is";

    public const string KvIntro = "Below is a list of keys and their values. Remember them.\n";
    public const string CopySeparator = "\n\nRepeat:\n\n";

    // Phrasings vary so the model learns the skill (find the needle, copy its answer) rather than one template; the
    // evaluation harness's own phrasings are among them, its contents (keys, places, activities) are drawn at random.
    private static readonly string[] PasskeyIntros =
        [PasskeyIntro, "There is a pass key hidden in this text. Find it and remember it.", "Find the pass key in the text below.", ""];
    private static readonly string[] NeedleIntros =
        ["", "Read the text below and remember the facts hidden in it.", "Some special magic numbers are hidden in the text below. Remember them."];

    private static readonly string[] Words =
    [
        "apple", "river", "window", "garden", "silver", "harbor", "lantern", "meadow", "falcon", "marble", "thunder", "cedar",
        "violet", "compass", "anchor", "canyon", "ember", "glacier", "island", "jasmine", "kettle", "lemon", "mirror", "needle",
        "orchard", "pepper", "quartz", "saddle", "tunnel", "velvet", "walnut", "yellow", "zephyr", "bridge", "castle", "dragon",
    ];
    private static readonly string[] Adjectives =
        ["amber", "brisk", "calm", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly", "lucky", "misty", "noble", "proud", "quiet", "rusty"];
    private static readonly string[] Cities =
    [
        "San Francisco", "Paris", "Boston", "Lisbon", "Kyoto", "Chicago", "Oslo", "Cairo", "Lima", "Madrid", "Dublin", "Vienna",
        "Prague", "Nairobi", "Seoul", "Sydney", "Toronto", "Havana", "Athens", "Istanbul", "Mumbai", "Bangkok", "Quito", "Rome",
        "Berlin", "Denver", "Seattle", "Montreal", "Naples", "Porto", "Krakow", "Hanoi",
    ];

    private readonly ByteLevelBpeTokenizer _tok;
    private readonly int[] _text;
    private readonly int _bos;
    private readonly float _answer;
    private readonly int[] _passkeyFiller;

    private readonly double _copyRepeatShare;
    private readonly int _randomVocab;
    private readonly double? _niahPhraseShare;
    private readonly float _niahAnswer;
    private readonly int _niahFacts;

    /// <param name="copyRepeatShare">Share of copy samples that repeat a short random segment many times.</param>
    /// <param name="randomVocab">Random copy tokens come from this many of the most frequent learned pieces (0: any token).</param>
    /// <param name="niahPhraseShare">Share of niah samples in the phrase style (null: the three styles alike).</param>
    /// <param name="niahAnswerWeight">Loss weight of niah answers (null: <paramref name="answerWeight"/>).</param>
    /// <param name="niahFacts">Phrase-style niah samples hide 1 to this many facts, each asked for at the end.</param>
    public LongContextTasks(ByteLevelBpeTokenizer tokenizer, int[] trainText, float answerWeight, double copyRepeatShare = 0, int randomVocab = 0,
        double? niahPhraseShare = null, float? niahAnswerWeight = null, int niahFacts = 1)
    {
        _niahAnswer = niahAnswerWeight ?? answerWeight;
        _niahFacts = niahFacts;
        _niahPhraseShare = niahPhraseShare;
        _copyRepeatShare = copyRepeatShare;
        _randomVocab = randomVocab;
        if (trainText.Length < 16) throw new HeadWiseException($"the training text is only {trainText.Length} tokens long");
        _tok = tokenizer;
        _text = trainText;
        _bos = tokenizer.BosId ?? throw new HeadWiseException("the tokenizer has no BOS token");
        _answer = answerWeight;
        _passkeyFiller = Enc(PasskeyFiller);
    }

    /// <summary>A sample of <paramref name="total"/> tokens; null when the task does not fit in that many.</summary>
    /// <param name="niahStyle">-1: any needle style (training); 0: the single "special magic number"; 1: RULER words with distractors; 2: city.</param>
    /// <param name="copyRepeatShare">Overrides the constructor's share of repeated-segment copy samples.</param>
    public TrainingSample? Make(SampleKind kind, Random rng, int total, int niahStyle = -1, double? copyRepeatShare = null) => kind switch
    {
        SampleKind.Text => new SampleBuilder().Add([_bos]).Gap(1).Build(total, n => Text(rng, n)),
        SampleKind.Passkey => Passkey(rng, total),
        SampleKind.Niah => Niah(rng, total, niahStyle),
        SampleKind.KvRetrieval => KvRetrieval(rng, total),
        SampleKind.Copy => Copy(rng, total, copyRepeatShare ?? _copyRepeatShare),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private int[] Enc(string s) => _tok.Encode(s, addBos: false, parseSpecial: false).ToArray();

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

    private SampleBuilder Start(string intro)
    {
        var b = new SampleBuilder().Add([_bos]);
        return intro.Length == 0 ? b : b.Add(Enc(intro));
    }

    private TrainingSample? Passkey(Random rng, int total)
    {
        var key = Number(rng, 3, 7);
        double depth = Depth(rng);
        bool classic = rng.NextDouble() < 0.5;
        var needle = PasskeyNeedle(key, repeatKey: rng.NextDouble() < 0.5);
        var b = Start(Pick(rng, PasskeyIntros)).Gap(depth).Add(Enc(needle)).Gap(1 - depth)
            .Add(Enc(PasskeyQuestion)).Add(Enc(" " + key), _answer).Add(Enc("."));
        return b.Build(total, n => classic ? Repeat(_passkeyFiller, n, rng) : Text(rng, n));
    }

    private static int[] Repeat(int[] unit, int n, Random rng)
    {
        var result = new int[n];
        int offset = rng.Next(unit.Length);
        for (int i = 0; i < n; i++) result[i] = unit[(offset + i) % unit.Length];
        return result;
    }

    private TrainingSample? Niah(Random rng, int total, int style)
    {
        double depth = Depth(rng);
        if (style < 0) style = _niahPhraseShare is { } share ? (rng.NextDouble() < share ? NiahPhraseStyle : rng.Next(2)) : rng.Next(3);
        var b = Start(Pick(rng, NeedleIntros));
        if (style == 0)
        {
            var number = Number(rng, 5, 7);
            b.Gap(depth).Add(Enc(NiahNeedle(number))).Gap(1 - depth).Add(Enc(NiahQuestion)).Add(Enc(" " + number), _niahAnswer).Add(Enc("."));
        }
        else if (style == 1)
        {
            // RULER style with distractor needles for other keys: the question's key decides which number is right.
            var keys = new HashSet<string>();
            int count = 1 + rng.Next(5);
            while (keys.Count < count) keys.Add(rng.NextDouble() < 0.5 ? Pick(rng, Words) : $"{Pick(rng, Adjectives)}-{Pick(rng, Words)}");
            var words = keys.ToArray();
            var numbers = words.Select(_ => Number(rng, 5, 7)).ToArray();
            int target = rng.Next(words.Length);
            for (int i = 0; i < words.Length; i++) b.Gap(rng.NextDouble() + 0.05).Add(Enc(RulerNeedle(words[i], numbers[i])));
            var where = rng.NextDouble() < 0.5 ? "provided text" : "text";
            b.Gap(rng.NextDouble() + 0.05).Add(Enc(RulerQuestion(words[target], where))).Add(Enc(" " + numbers[target]), _niahAnswer).Add(Enc("."));
        }
        else
        {
            // Facts whose answers are phrases to copy; with several, each question's city decides which phrase.
            var cities = new List<string>();
            // (With one fact no extra random draws: a config without niah_facts makes the same samples as before it existed.)
            for (int count = _niahFacts > 1 ? 1 + rng.Next(_niahFacts) : 1; cities.Count < count;)
            {
                var c = Pick(rng, Cities);
                if (!cities.Contains(c)) cities.Add(c);
            }
            var facts = cities.Select(c => (City: c, Verb: rng.NextDouble() < 0.7 ? " is to" : " is", Phrase: Phrase(rng))).ToList();
            bool several = facts.Count > 1;   // one fact sits at the sample's depth; several are spread at random
            if (!several) b.Gap(depth);
            foreach (var (city, verb, phrase) in facts)
            {
                if (several) b.Gap(rng.NextDouble() + 0.05);
                b.Add(Enc($" The best thing to do in {city}{verb}")).Add(phrase).Add(Enc("."));
            }
            b.Gap(several ? rng.NextDouble() + 0.05 : 1 - depth);
            foreach (var (city, verb, phrase) in several ? facts.OrderBy(_ => rng.Next()).ToList() : facts)
                b.Add(Enc($"\nWhat is the best thing to do in {city}? The best thing to do in {city}{verb}")).Add(phrase, _niahAnswer).Add(Enc("."));
        }
        return b.Build(total, n => Text(rng, n));
    }

    /// <summary>
    /// A phrase to copy: a run of training text with up to three invented words in it. An invented word breaks into
    /// short pieces (" b", "am") found all over the context, as rare words do ("bamboo", "ceviche" in the harness), so
    /// only a head matching several tokens back copies it; a fixed list of phrases was memorised instead of copied.
    /// </summary>
    private int[] Phrase(Random rng)
    {
        var tokens = new List<int>(Text(rng, 6 + rng.Next(16)));
        for (int i = rng.Next(4); i > 0; i--) tokens.InsertRange(rng.Next(tokens.Count + 1), Enc(" " + PseudoWord(rng)));
        return tokens.ToArray();
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
            b.Add(ask).Add(answer, _answer);
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
            while (b.FixedLength + n <= total) b.Add(unit, _answer);
            return b.Gap(1).Build(total, k => Text(rng, k));
        }
        int max = (total - 1 - sep.Length) / 2;
        int length = Math.Max(1, rng.Next(max / 4, max + 1));
        // Natural text, or random tokens that no language model can guess: only copying predicts them.
        int[] segment = rng.NextDouble() < 0.7 ? Text(rng, length) : RandomTokens(rng, length);
        if (rng.NextDouble() < 0.5)
            return new SampleBuilder().Add([_bos]).Gap(1).Add(segment).Add(sep).Add(segment, _answer).Build(total, n => Text(rng, n));
        // Recall without a separator: a span somewhere in the text comes back at the end, and after its first few
        // tokens only the earlier occurrence predicts the rest (the induction behind Wu et al.'s retrieval heads).
        var span = segment[..Math.Min(segment.Length, 8 + rng.Next(40))];
        int cue = Math.Min(span.Length - 1, 2 + rng.Next(3));
        double depth = Depth(rng);
        return new SampleBuilder().Add([_bos]).Gap(depth).Add(span).Gap(1 - depth).Add(span[..cue]).Add(span[cue..], _answer)
            .Build(total, n => Text(rng, n));
    }

    /// <summary>Random tokens from the <c>randomVocab</c> most frequent learned pieces (ids after the bytes), or from all.</summary>
    private int[] RandomTokens(Random rng, int n)
    {
        int first = 2 + 256, count = _randomVocab > 0 ? Math.Min(_randomVocab, _tok.VocabSize - first) : _tok.VocabSize - 2;
        if (count <= 0) { first = 2; count = _tok.VocabSize - 2; }
        else if (_randomVocab <= 0) first = 2;
        return Enumerable.Range(0, n).Select(_ => first + rng.Next(count)).ToArray();
    }
}
