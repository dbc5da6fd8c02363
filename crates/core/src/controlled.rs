//! DEA controlled-substance schedules (21 CFR 1308.12–15) for medications named in prescriptions,
//! by ingredient name and by RxNorm ingredient code (RxCUI). Names are matched on whole words of
//! the medication text, so "Oxycodone HCl 5 MG Oral Tablet" is found.

/// A controlled ingredient: its name, RxNorm ingredient codes, and DEA schedule.
struct Controlled {
    name: &'static str,
    rxcuis: &'static [&'static str],
    schedule: &'static str,
}

const TABLE: &[Controlled] = &[
    Controlled {
        name: "oxycodone",
        rxcuis: &["7804"],
        schedule: "II",
    },
    Controlled {
        name: "hydrocodone",
        rxcuis: &["5489"],
        schedule: "II",
    },
    Controlled {
        name: "morphine",
        rxcuis: &["7052"],
        schedule: "II",
    },
    Controlled {
        name: "fentanyl",
        rxcuis: &["4337"],
        schedule: "II",
    },
    Controlled {
        name: "methadone",
        rxcuis: &["6813"],
        schedule: "II",
    },
    Controlled {
        name: "hydromorphone",
        rxcuis: &["3423"],
        schedule: "II",
    },
    Controlled {
        name: "oxymorphone",
        rxcuis: &["7814"],
        schedule: "II",
    },
    Controlled {
        name: "tapentadol",
        rxcuis: &["787390"],
        schedule: "II",
    },
    Controlled {
        name: "meperidine",
        rxcuis: &["6754"],
        schedule: "II",
    },
    Controlled {
        name: "amphetamine",
        rxcuis: &["725"],
        schedule: "II",
    },
    Controlled {
        name: "dextroamphetamine",
        rxcuis: &["3288"],
        schedule: "II",
    },
    Controlled {
        name: "lisdexamfetamine",
        rxcuis: &["700810"],
        schedule: "II",
    },
    Controlled {
        name: "methylphenidate",
        rxcuis: &["6901"],
        schedule: "II",
    },
    Controlled {
        name: "dexmethylphenidate",
        rxcuis: &["40114"],
        schedule: "II",
    },
    Controlled {
        name: "cocaine",
        rxcuis: &["2632"],
        schedule: "II",
    },
    Controlled {
        name: "codeine",
        rxcuis: &["2670"],
        schedule: "II",
    },
    Controlled {
        name: "buprenorphine",
        rxcuis: &["1819"],
        schedule: "III",
    },
    Controlled {
        name: "testosterone",
        rxcuis: &["10379"],
        schedule: "III",
    },
    Controlled {
        name: "ketamine",
        rxcuis: &["6130"],
        schedule: "III",
    },
    Controlled {
        name: "dronabinol",
        rxcuis: &["3398"],
        schedule: "III",
    },
    Controlled {
        name: "alprazolam",
        rxcuis: &["596"],
        schedule: "IV",
    },
    Controlled {
        name: "diazepam",
        rxcuis: &["3322"],
        schedule: "IV",
    },
    Controlled {
        name: "lorazepam",
        rxcuis: &["6470"],
        schedule: "IV",
    },
    Controlled {
        name: "clonazepam",
        rxcuis: &["2598"],
        schedule: "IV",
    },
    Controlled {
        name: "temazepam",
        rxcuis: &["10355"],
        schedule: "IV",
    },
    Controlled {
        name: "zolpidem",
        rxcuis: &["39993"],
        schedule: "IV",
    },
    Controlled {
        name: "eszopiclone",
        rxcuis: &["236445"],
        schedule: "IV",
    },
    Controlled {
        name: "tramadol",
        rxcuis: &["10689"],
        schedule: "IV",
    },
    Controlled {
        name: "carisoprodol",
        rxcuis: &["2101"],
        schedule: "IV",
    },
    Controlled {
        name: "phenobarbital",
        rxcuis: &["8134"],
        schedule: "IV",
    },
    Controlled {
        name: "modafinil",
        rxcuis: &["30125"],
        schedule: "IV",
    },
    Controlled {
        name: "armodafinil",
        rxcuis: &["641465"],
        schedule: "IV",
    },
    Controlled {
        name: "phentermine",
        rxcuis: &["8152"],
        schedule: "IV",
    },
    Controlled {
        name: "pregabalin",
        rxcuis: &["187832"],
        schedule: "V",
    },
    Controlled {
        name: "lacosamide",
        rxcuis: &["623404"],
        schedule: "V",
    },
    Controlled {
        name: "brivaracetam",
        rxcuis: &["1739745"],
        schedule: "V",
    },
];

/// The DEA schedule and ingredient of a medication, from its text or RxNorm codes.
pub fn schedule(text: &str, rxnorm_codes: &[&str]) -> Option<(&'static str, &'static str)> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
    TABLE
        .iter()
        .find(|c| words.contains(&c.name))
        .or_else(|| {
            TABLE
                .iter()
                .find(|c| c.rxcuis.iter().any(|code| rxnorm_codes.contains(code)))
        })
        .map(|c| (c.name, c.schedule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_schedules_by_name_and_code() {
        assert_eq!(
            schedule("Oxycodone HCl 5 MG Oral Tablet", &[]),
            Some(("oxycodone", "II"))
        );
        assert_eq!(schedule("", &["596"]), Some(("alprazolam", "IV")));
        assert_eq!(schedule("Amoxicillin 500 MG Oral Capsule", &["723"]), None);
        assert_eq!(schedule("pregabalin 75 mg", &[]), Some(("pregabalin", "V")));
    }
}
