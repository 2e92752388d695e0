namespace HeadWise.Prompts;

/// <summary>
/// A needle sentence and the question that asks for it, as templates: <c>{key}</c> is what the question names (a place,
/// a key word), <c>{value}</c> the answer the needle holds. The question ends where the answer begins.
/// </summary>
public sealed record NeedleForm(string Needle, string Question)
{
    public string NeedleFor(string key, string value) => Needle.Replace("{key}", key).Replace("{value}", value);

    public string QuestionFor(string key) => Question.Replace("{key}", key);

    /// <summary>The needle's text before and after its value, for an answer that exists only as tokens.</summary>
    public (string Before, string After) NeedleAround(string key)
    {
        var parts = Needle.Replace("{key}", key).Split("{value}");
        return (parts[0], parts[1]);
    }
}

/// <summary>
/// How one task words its prompts: instructions (intros) and needle/question forms. The first of each list is what the
/// evaluation harness asks; training draws from all of them, so it learns the skill rather than one template.
/// </summary>
public sealed record TaskWording(IReadOnlyList<string> Intros, IReadOnlyList<NeedleForm> Forms)
{
    public string EvaluationIntro => Intros[0];
    public NeedleForm EvaluationForm => Forms[0];
    public string Intro(Random rng) => Intros[rng.Next(Intros.Count)];
    public NeedleForm Form(Random rng) => Forms[rng.Next(Forms.Count)];
}

/// <summary>
/// The one place that words the passkey and needle prompts: the evaluation tasks (passkey, niah, multikey), the training
/// tasks and DuoAttention's gate optimisation all read it. The evaluation's contents (its facts and key words) are here
/// too, so that training can draw contents the evaluation never uses.
/// </summary>
public static class PromptWording
{
    /// <summary>Passkey retrieval (Mohtashami and Jaggi 2023): a number in repetitive filler. No {key}; {value} is the pass key.</summary>
    public static readonly TaskWording Passkey = new(
        [
            "There is a pass key hidden in this text. Find it and remember it.",
            "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there.",
            "Find the pass key in the text below.",
            "",
        ],
        [
            new("The pass key is {value}. Remember it.", "What is the pass key? The pass key is"),
            new("The pass key is {value}. Remember it. {value} is the pass key.", "What is the pass key? The pass key is"),
            new("The pass key is {value}.", "What is the pass key? The pass key is"),
            new("Remember this pass key: {value}.", "What was the pass key? The pass key is"),
            new("Your pass key is {value}. Keep it in mind.", "Which pass key was hidden in the text? The pass key is"),
        ]);

    /// <summary>The passkey task's filler sentences, repeated in order.</summary>
    public static readonly IReadOnlyList<string> PasskeyFiller =
        ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again."];

    /// <summary>One "special magic number" in natural text (Kamradt 2023; RULER's wording). No {key}.</summary>
    public static readonly TaskWording MagicNumber = new(
        ["Read the text below and remember the facts hidden in it.", "", "A special magic number is hidden in the text below. Remember it."],
        [
            new("The special magic number is: {value}.", "What is the special magic number? The special magic number is:"),
            new("The special magic number is {value}.", "What is the special magic number mentioned in the text? The special magic number is"),
            new("Remember the special magic number: {value}.", "What was the special magic number? It is"),
        ]);

    /// <summary>Numbers for named keys among distractors (RULER's niah_multikey_1).</summary>
    public static readonly TaskWording Keyed = new(
        ["Some special magic numbers are hidden in the text below. Remember them.", "", "Read the text below and remember the facts hidden in it."],
        [
            new("One of the special magic numbers for {key} is: {value}.",
                "What is the special magic number for {key} mentioned in the text? The special magic number for {key} mentioned in the text is"),
            new("One of the special magic numbers for {key} is: {value}.",
                "What is the special magic number for {key} mentioned in the provided text? The special magic number for {key} mentioned in the provided text is"),
            new("The special magic number for {key} is {value}.", "What is the special magic number for {key}? The special magic number for {key} is"),
            new("The magic number of {key} is: {value}.", "What is the magic number of {key}? The magic number of {key} is"),
        ]);

    /// <summary>A fact whose answer is a phrase to copy (the needle of Kamradt's original test). {key} is a place.</summary>
    public static readonly TaskWording Fact = new(
        ["Read the text below and remember the facts hidden in it.", "", "Some facts about cities are hidden in the text below. Remember them."],
        [
            new("The best thing to do in {key} is to {value}.", "What is the best thing to do in {key}? The best thing to do in {key} is to"),
            new("The best thing to do in {key} is {value}.", "What is the best thing to do in {key}? The best thing to do in {key} is"),
            new("In {key}, the best thing to do is to {value}.", "What is the best thing to do in {key}? The best thing to do in {key} is to"),
            new("If you visit {key}, the best thing to do is to {value}.", "What should you do in {key}? The best thing to do in {key} is to"),
        ]);

    /// <summary>The evaluation's niah facts: training never uses these places or activities.</summary>
    public static readonly IReadOnlyList<(string Place, string Activity)> EvaluationFacts =
    [
        ("San Francisco", "eat a sandwich and sit in Dolores Park on a sunny day"),
        ("Lisbon", "ride the old yellow tram up the hill at sunset"),
        ("Kyoto", "walk through the bamboo forest early in the morning"),
        ("Oslo", "swim in the cold fjord and then sit in a warm sauna"),
        ("Cairo", "watch the boats on the river from a rooftop garden"),
        ("Lima", "eat fresh ceviche at a small market stall by the sea"),
    ];

    /// <summary>The evaluation's multikey keys are "adjective-noun" from these lists; training keys use neither.</summary>
    public static readonly IReadOnlyList<string> EvaluationKeyAdjectives =
        ["amber", "brisk", "calm", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly", "lucky", "misty"];

    public static readonly IReadOnlyList<string> EvaluationKeyNouns =
        ["anchor", "bridge", "candle", "desert", "engine", "falcon", "garden", "harbor", "island", "jacket", "lantern", "meadow"];
}
