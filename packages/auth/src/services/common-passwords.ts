/**
 * A small offline deny-list: the passwords at the top of public breach corpora that a
 * 12-character minimum would otherwise let through. Not a substitute for a breached-password
 * service (pass `isBreached` for that); it stops the obvious ones without a network call.
 */

// Whitespace-separated so the formatter keeps the list compact; every entry is lower-case.
const LISTED = `
123456789012 1234567890123 12345678901234 123456789123 123456789000 123456123456 123123123123
111111111111 000000000000 121212121212 123321123321 112233445566 111222333444 147258369147
123456654321 123412341234 987654321012 098765432112 012345678910 100200300400 102030405060
1q2w3e4r5t6y 1q2w3e4r5t6y7u 1q2w3e4r5t6y7u8i q1w2e3r4t5y6 q1w2e3r4t5y6u7 1qaz2wsx3edc
1qaz2wsx3edc4rfv qazwsxedcrfv qazwsxedcrfvtgb zaq12wsxcde3 zaq1zaq1zaq1 zaq1xsw2cde3
!qaz2wsx#edc 1qazxsw23edc 1qaz@wsx3edc 1qaz!qaz1qaz 2wsx3edc4rfv qwertyuiop123
qwertyuiopasdf qwertyuiopasdfghjkl qwertyuiop12 qwertyuiop1234 asdfghjklqwerty asdfghjkl123
asdfghjkl1234 asdfasdfasdf asdf1234asdf zxcvbnm12345 zxcvbnm123456 zxcvbnmasdfghjkl
qweasdzxc123 qweasdzxcqwe qwe123qwe123 qwe123456789 qweqweqweqwe 1234qwerasdf 1234qwerasdfzxcv
qwer1234asdf qwerasdfzxcv qwertyqwerty qwerty123456 qwerty1234567 qwerty123456789 123456qwerty
1234567qwerty qwertyasdfgh qwertyuiop!! abcd1234abcd abcdefghijkl abcdefghijklm
abcdefghijklmnop abcdefg12345 abc123abc123 abc123456789 abcabcabcabc a1b2c3d4e5f6
a1b2c3d4e5f6g7 aaaaaa111111 aa1234567890 123456789abc 123456789qwe 123456789asd 1234567890qwerty
qwerty1234567890 0987654321qwerty 1234567890abc iloveyou1234 iloveyouiloveyou iloveyoubaby
iloveyoutoo1 iloveyousomuch iloveyou4ever ihateyou1234 letmeinletmein letmein12345
welcome12345 welcome123456 changeme1234 changemenow! passwordpassword password12345
password123456 password1234! password!1234 passwordpass p@ssw0rd1234 p@ssword1234 passw0rd1234
p@55w0rd1234 pa$$word1234 mypassword123 mypassword1234 mypassword12 yourpassword newpassword123
newpassword1 thisismypassword passwordispassword correcthorsebatterystaple trustno1trustno1
administrator administrator1 admin1234567 adminadmin123 adminpassword rootroot1234
superuser123 testtest1234 test12345678 testing12345 testpassword temppassword temp12345678
default12345 guest1234567 login1234567 secret123456 secretpassword letmein123456
opensesame123 masterpassword whatever1234 nopassword123 idontknow123 iloveyou12345
football1234 baseball1234 basketball12 basketball123 soccer123456 hockey123456 superman1234
batman123456 spiderman123 starwars1234 pokemon12345 minecraft123 fortnite1234 liverpool123
manchester123 manchesterunited chelsea12345 arsenal12345 barcelona123 realmadrid12
princess1234 sunshine1234 monkey123456 dragon123456 shadow123456 master123456 michael12345
jennifer1234 jordan123456 hunter123456 charlie12345 freedom12345 computer1234 internet1234
samsung12345 google123456 facebook1234 linkedin1234 microsoft123 blink1821234 butterfly123
chocolate123 december1234 september123 november1234 sweetheart12 lovelove1234 babygirl1234
loveyou12345 qwerty!@#$%^ !@#$%^&*()_+ 1234!@#$qwer !@#$%^123456 1q2w3e!q2w3e 12qwaszx12qw
qwaszx123456 azertyuiop12 azerty123456 qwertz123456 aaaaaaaaaaaa zzzzzzzzzzzz
`
  .split(/\s+/)
  .filter((entry) => entry.length > 0)

// Common words people pad with a counter or a year to reach a minimum length.
const BASES = `
password passw0rd p@ssw0rd p@ssword qwerty qwertyuiop iloveyou welcome letmein football
baseball basketball soccer hockey monkey dragon princess sunshine shadow master superman batman
spiderman michael jennifer jordan hunter killer trustno1 charlie freedom whatever starwars
pokemon computer internet admin administrator changeme secret abc123 asdfgh asdfghjkl zxcvbnm
1qaz2wsx qazwsx summer winter spring autumn iloveu lovely flower cookie chocolate butterfly
liverpool chelsea arsenal manchester barcelona mustang harley ranger thomas daniel andrew
ashley jessica matthew samsung google facebook microsoft minecraft fortnite default guest login
access hello money family angel babygirl forever friends loveme purple orange banana pepper
ginger maggie buster tigger jasmine diamond silver golden matrix phoenix rainbow december
september november christmas midnight blessed jesus heaven london america
`
  .split(/\s+/)
  .filter((entry) => entry.length > 0)

const SUFFIXES = [
  '',
  '1',
  '12',
  '123',
  '1234',
  '12345',
  '123456',
  '1234567',
  '12345678',
  '!',
  '1!',
  '12!',
  '123!',
  '1234!',
  '!!',
  '@123',
  '#1',
  '01',
  '007',
  '69',
  '99',
  '321',
  '4321',
  '54321',
  '111',
  '000',
  '2020',
  '2021',
  '2022',
  '2023',
  '2024',
  '2025',
  '2026',
  '2020!',
  '2024!',
  '2025!',
]

const COMMON = new Set<string>(LISTED)
for (const base of BASES) {
  COMMON.add(`${base}${base}`)
  for (const suffix of SUFFIXES) COMMON.add(`${base}${suffix}`)
}

// Runs that people slice from for "long" passwords: '234567890123', 'lkjhgfdsapoi'...
const RUNS = [
  '01234567890123456789',
  '98765432109876543210',
  'abcdefghijklmnopqrstuvwxyz',
  'zyxwvutsrqponmlkjihgfedcba',
  'qwertyuiopasdfghjklzxcvbnm',
  'mnbvcxzlkjhgfdsapoiuytrewq',
]

const SINGLE_REPEATED_CHARACTER = /^(.)\1*$/su

/** True for a password on the built-in list, compared case-insensitively. */
export function isCommonPassword(password: string): boolean {
  const lowered = password.toLowerCase()
  if (COMMON.has(lowered)) return true
  if (SINGLE_REPEATED_CHARACTER.test(lowered)) return true
  return lowered.length >= 8 && RUNS.some((run) => run.includes(lowered))
}
