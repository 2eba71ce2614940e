package population

// An origin is a country people of the territory come from, with the
// languages they speak and lists of common given names and surnames. The
// names are combined at random: no list entry, and no combination, is
// meant to describe a real person.
type origin struct {
	// countryName is the Italian name in schemas/places/countries.json;
	// the Z-code is looked up there. Empty for Italy.
	countryName string
	eu          bool // an EU citizen holds no residence permit
	// asylum marks the usual countries of origin of asylum seekers: their
	// households are more often recent arrivals.
	asylum    bool
	weight    int // among households of foreign citizens
	languages []string
	male      []string
	female    []string
	surnames  []string
}

var italy = origin{
	languages: []string{"it"},
	male: []string{
		"Marco", "Luca", "Andrea", "Giuseppe", "Francesco", "Alessandro", "Matteo", "Mattia",
		"Lorenzo", "Leonardo", "Giovanni", "Stefano", "Paolo", "Roberto", "Antonio", "Simone",
		"Riccardo", "Tommaso", "Niccolò", "Filippo", "Gabriele", "Daniele", "Federico", "Massimo",
		"Fabio", "Claudio", "Sergio", "Piero", "Giorgio", "Franco", "Bruno", "Enzo", "Vittorio",
		"Duccio", "Jacopo", "Emanuele", "Samuele", "Pietro", "Carlo", "Mario",
	},
	female: []string{
		"Giulia", "Francesca", "Chiara", "Sara", "Martina", "Alessia", "Elena", "Anna", "Maria",
		"Laura", "Valentina", "Sofia", "Aurora", "Ginevra", "Alice", "Beatrice", "Emma", "Giorgia",
		"Silvia", "Paola", "Roberta", "Cristina", "Monica", "Patrizia", "Daniela", "Rossella",
		"Lucia", "Rita", "Franca", "Graziella", "Giovanna", "Caterina", "Irene", "Bianca", "Noemi",
		"Marisa", "Luisa", "Carla",
	},
	surnames: []string{
		"Rossi", "Bianchi", "Bartolini", "Baldi", "Innocenti", "Bini", "Cecchi", "Giannini",
		"Lombardi", "Mazzoni", "Fabbri", "Ricci", "Parenti", "Niccolai", "Fantoni", "Bettini",
		"Masi", "Nardi", "Pieri", "Sarti", "Guidi", "Bruni", "Conti", "Galli", "Esposito", "Russo",
		"Romano", "Colombo", "Ferrari", "Greco", "Marino", "D'Angelo", "De Luca", "Vannucci",
		"Benvenuti", "Pucci", "Bonechi", "Lazzeri", "Cappelli", "Santini", "Tognetti", "Gori",
		"Caruso", "Lo Bue", "Sorrentino", "Mancini",
	},
}

// origins are the foreign countries, with the Z-codes taken from
// schemas/places/countries.json by name.
var origins = []origin{
	{
		countryName: "Romania", eu: true, weight: 14, languages: []string{"ro"},
		male:     []string{"Andrei", "Ionut", "Mihai", "Florin", "Cristian", "Bogdan", "Vasile", "Gheorghe"},
		female:   []string{"Elena", "Ioana", "Mihaela", "Andreea", "Alina", "Roxana", "Daniela", "Simona"},
		surnames: []string{"Popescu", "Ionescu", "Dumitru", "Stan", "Munteanu", "Constantin", "Marin", "Lungu", "Rusu", "Matei"},
	},
	{
		countryName: "Albania", weight: 13, languages: []string{"sq"},
		male:     []string{"Arben", "Ilir", "Gentian", "Erion", "Besnik", "Altin", "Fatmir", "Klodian"},
		female:   []string{"Elira", "Anila", "Blerta", "Mirela", "Jonida", "Ermira", "Valbona", "Entela"},
		surnames: []string{"Hoxha", "Shehu", "Kola", "Dervishi", "Gjoka", "Leka", "Basha", "Marku", "Cela", "Duka", "Bregu"},
	},
	{
		countryName: "Marocco", weight: 11, languages: []string{"ar", "fr"},
		male:     []string{"Mohamed", "Youssef", "Hamza", "Said", "Saad", "Rachid", "Karim", "Omar", "Abdelaziz", "Mustapha"},
		female:   []string{"Fatima", "Khadija", "Nadia", "Samira", "Amina", "Salma", "Zineb", "Hanane"},
		surnames: []string{"El Amrani", "Benali", "Bouzid", "El Idrissi", "Chakir", "Haddad", "Ouali", "Tazi", "Bennani", "Alaoui"},
	},
	{
		countryName: "Repubblica Popolare Cinese", weight: 9, languages: []string{"zh"},
		male:     []string{"Wei", "Jun", "Hao", "Jian", "Lei", "Ming", "Qiang", "Bo"},
		female:   []string{"Li", "Mei", "Xiu", "Yan", "Ling", "Fang", "Hui", "Jing"},
		surnames: []string{"Hu", "Zhou", "Chen", "Wang", "Lin", "Zhang", "Xu", "Ye", "Jin", "Wu"},
	},
	{
		countryName: "Peru'", weight: 6, languages: []string{"es"},
		male:     []string{"Luis", "Jorge", "Carlos", "Miguel", "Cesar", "Victor", "Julio", "Raul"},
		female:   []string{"Rosa", "Carmen", "Milagros", "Maribel", "Gladys", "Yesenia", "Liliana", "Norma"},
		surnames: []string{"Quispe", "Flores", "Huaman", "Mamani", "Rojas", "Chavez", "Vargas", "Torres", "Ramos", "Mendoza"},
	},
	{
		countryName: "Ucraina", weight: 6, languages: []string{"uk", "ru"},
		male:     []string{"Oleksandr", "Andrii", "Serhii", "Dmytro", "Taras", "Bohdan", "Yurii", "Vasyl"},
		female:   []string{"Olena", "Iryna", "Oksana", "Nataliia", "Tetiana", "Yuliia", "Kateryna", "Halyna"},
		surnames: []string{"Kovalenko", "Shevchenko", "Bondarenko", "Tkachenko", "Melnyk", "Kravchenko", "Boiko", "Lysenko"},
	},
	{
		countryName: "Senegal", asylum: true, weight: 5, languages: []string{"wo", "fr"},
		male:     []string{"Mamadou", "Cheikh", "Moussa", "Ousmane", "Abdoulaye", "Ibrahima", "Modou", "Pape"},
		female:   []string{"Fatou", "Awa", "Aminata", "Mariama", "Khady", "Ndeye", "Coumba", "Astou"},
		surnames: []string{"Diop", "Ndiaye", "Fall", "Sow", "Sarr", "Gueye", "Diallo", "Ba", "Mbaye", "Faye"},
	},
	{
		countryName: "Nigeria", asylum: true, weight: 6, languages: []string{"en"},
		male:     []string{"Chinedu", "Emeka", "Oluwaseun", "Ifeanyi", "Tunde", "Godwin", "Samuel", "Kelvin"},
		female:   []string{"Blessing", "Chioma", "Ngozi", "Precious", "Joy", "Favour", "Adaeze", "Gift"},
		surnames: []string{"Okafor", "Adeyemi", "Eze", "Okonkwo", "Nwosu", "Balogun", "Obi", "Ogunleye", "Edeh", "Osagie"},
	},
	{
		countryName: "Bangladesh", asylum: true, weight: 5, languages: []string{"bn"},
		male:     []string{"Mohammad", "Rafiq", "Kamal", "Shahid", "Jahangir", "Habib", "Sohel", "Rasel"},
		female:   []string{"Nasrin", "Taslima", "Shirin", "Rupa", "Sumaiya", "Farzana", "Rina", "Shapla"},
		surnames: []string{"Hossain", "Rahman", "Islam", "Ahmed", "Uddin", "Miah", "Sarker", "Alam"},
	},
	{
		countryName: "Pakistan", asylum: true, weight: 5, languages: []string{"ur", "pa"},
		male:     []string{"Imran", "Bilal", "Asif", "Usman", "Kashif", "Waqas", "Adnan", "Zeeshan"},
		female:   []string{"Ayesha", "Sana", "Hina", "Rabia", "Noor", "Saima", "Nadia", "Mehwish"},
		surnames: []string{"Khan", "Ali", "Hussain", "Iqbal", "Butt", "Malik", "Raza", "Javed", "Akhtar"},
	},
	{
		countryName: "Egitto", weight: 3, languages: []string{"ar"},
		male:     []string{"Ahmed", "Mahmoud", "Mostafa", "Tarek", "Amr", "Khaled", "Hany", "Sherif"},
		female:   []string{"Mona", "Rania", "Heba", "Nour", "Yasmin", "Dina", "Marwa", "Eman"},
		surnames: []string{"Abdelrahman", "Hassan", "Mansour", "Fahmy", "Soliman", "Salem", "Ibrahim", "Farouk"},
	},
	{
		countryName: "Tunisia", asylum: true, weight: 3, languages: []string{"ar", "fr"},
		male:     []string{"Mehdi", "Anis", "Sami", "Walid", "Karim", "Bilel", "Hichem", "Nizar"},
		female:   []string{"Amel", "Sonia", "Ines", "Leila", "Rim", "Olfa", "Sarra", "Hela"},
		surnames: []string{"Ben Salah", "Trabelsi", "Gharbi", "Jebali", "Mejri", "Ayari", "Hammami", "Ben Amor"},
	},
	{
		countryName: "Gambia", asylum: true, weight: 4, languages: []string{"en", "wo"},
		male:     []string{"Lamin", "Ebrima", "Modou", "Alieu", "Omar", "Musa", "Sheriff", "Bakary"},
		female:   []string{"Isatou", "Fatoumata", "Mariama", "Haddy", "Awa", "Binta", "Kaddy", "Jainaba"},
		surnames: []string{"Jallow", "Ceesay", "Bah", "Touray", "Camara", "Sanneh", "Darboe", "Njie", "Sowe"},
	},
	{
		countryName: "Mali", asylum: true, weight: 3, languages: []string{"bm", "fr"},
		male:     []string{"Seydou", "Bakary", "Adama", "Souleymane", "Drissa", "Mamadou", "Boubacar", "Issa"},
		female:   []string{"Kadiatou", "Aissata", "Oumou", "Rokia", "Fanta", "Assitan", "Mariam", "Djeneba"},
		surnames: []string{"Traore", "Keita", "Coulibaly", "Diarra", "Konate", "Sidibe", "Doumbia", "Sangare"},
	},
	{
		countryName: "Afghanistan", asylum: true, weight: 3, languages: []string{"fa", "ps"},
		male:     []string{"Ahmad", "Mohammad", "Ali", "Jawad", "Farid", "Hamid", "Wahid", "Naveed"},
		female:   []string{"Zahra", "Fatima", "Maryam", "Parwana", "Shabnam", "Laila", "Nargis", "Sima"},
		surnames: []string{"Ahmadi", "Rahimi", "Hashimi", "Karimi", "Sultani", "Nazari", "Hakimi", "Mohammadi"},
	},
	{
		countryName: "Costa D'Avorio", asylum: true, weight: 3, languages: []string{"fr"},
		male:     []string{"Yao", "Kouassi", "Koffi", "Konan", "Seydou", "Lassina", "Arouna", "Didier"},
		female:   []string{"Adjoua", "Aya", "Affoue", "Mariam", "Akissi", "Amenan", "Awa", "Nadege"},
		surnames: []string{"Kouame", "Kone", "Ouattara", "Bamba", "Toure", "Kouadio", "Yeo", "Soro"},
	},
}
